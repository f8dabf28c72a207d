from __future__ import annotations

import time
import tracemalloc
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.notifications.catalogue import KINDS, default_templates, parse_code, template_code
from caremesh.notifications.domain import (
    BODY_MAX,
    LOOP_MAX,
    RANGE_MAX,
    SECRET_PLACEHOLDER,
    SUBJECT_MAX,
    Channel,
    SmtpTarget,
    Status,
    addresses,
    backoff_seconds,
    format_instant,
    format_money,
    humanize,
    parse_smtp_url,
    reveal,
    sample_variables,
    status_after_failure,
    variables_for,
)
from caremesh.notifications.rendering import TemplateProblem, check_template, render, render_kind, render_message

BOOKED = KINDS["appointment_booked"]

# --- money, time and words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("1680", "INR 1680.00"), ("1.005", "INR 1.01"), ("2.675", "INR 2.68"), ("0.004", "INR 0.00"), (12.5, "INR 12.50")],
)
def test_money_is_rounded_half_up_and_shown_with_its_currency(amount, shown):
    assert format_money(amount, "INR") == shown


@pytest.mark.parametrize("amount", ["", "twelve", "1e", None])
def test_what_is_not_an_amount_is_refused(amount):
    with pytest.raises(ValueError, match="not an amount"):
        format_money(amount, "INR")


@pytest.mark.parametrize(
    ("value", "tz", "shown"),
    [
        ("2030-01-07T09:00:00Z", UTC, "Monday 7 January 2030, 09:00 UTC"),
        ("2030-01-07T09:00:00+00:00", ZoneInfo("Asia/Kolkata"), "Monday 7 January 2030, 14:30 IST"),
        ("2030-01-07T23:30:00Z", ZoneInfo("Asia/Kolkata"), "Tuesday 8 January 2030, 05:00 IST"),
        ("2030-01-07T09:00:00", UTC, "Monday 7 January 2030, 09:00 UTC"),  # naive: UTC, as payloads carry
    ],
)
def test_instants_are_shown_in_the_clinic_timezone(value, tz, shown):
    assert format_instant(value, tz) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("general_practice", "general practice"),
        ("bank_transfer", "bank transfer"),
        ("card declined", "card declined"),
        ("INSUFFICIENT_STOCK", "a medication is out of stock"),
        ("SOMETHING_ELSE", "something else"),
    ],
)
def test_codes_become_words(value, shown):
    assert humanize(value) == shown


# --- variables -----------------------------------------------------------------------------------


def test_variables_are_the_kinds_fields_formatted_plus_the_first_name_and_currency():
    payload = {
        "appointment_id": "a-1",
        "number": "APT-2030-000001",
        "specialty": "general_practice",
        "start": "2030-01-07T09:00:00Z",
        "duration_minutes": 30,
        "reason": "chest pain",  # not a variable of a booking: it never reaches a template
        "patient_id": "p-1",
    }
    variables = variables_for(BOOKED, payload, first_name="Ravi", currency="INR", tz=UTC)
    assert variables == {
        "first_name": "Ravi",
        "currency": "INR",
        "appointment_id": "a-1",
        "number": "APT-2030-000001",
        "specialty": "general practice",
        "start": "Monday 7 January 2030, 09:00 UTC",
        "end": None,  # absent fields are None, so a template that uses them still renders
        "duration_minutes": 30,
    }
    assert sorted(variables) == BOOKED.variables


def test_the_events_currency_wins_over_the_clinics():
    kind = KINDS["invoice_issued"]
    assert variables_for(kind, {"total": "5", "currency": "USD"}, first_name="A", currency="INR", tz=UTC)["total"] == (
        "USD 5.00"
    )
    assert variables_for(kind, {"total": "5"}, first_name="A", currency="INR", tz=UTC)["total"] == "INR 5.00"


def test_a_lab_result_message_never_sees_the_results():
    payload = {"lab_order_id": "l-1", "patient_id": "p", "results": [{"name": "HbA1c", "value": "9.1"}]}
    variables = variables_for(KINDS["lab_result_ready"], payload, first_name="A", currency="INR", tz=UTC)
    assert "results" not in variables


# --- the default templates -----------------------------------------------------------------------


def test_every_kind_has_a_default_per_channel_with_unique_codes():
    codes = [code for code, *_ in default_templates()]
    email_only = [kind for kind in KINDS.values() if kind.sms is None]  # tokens, and the billing office's messages
    assert {kind.key for kind in email_only} == {
        "password_reset",
        "email_verification",
        "claim_adjudicated",
        "claim_paid",
    }
    assert len(codes) == len(set(codes)) == len(KINDS) * len(Channel) - len(email_only)
    assert parse_code("password_reset.sms") is None
    for code, channel, subject, _body in default_templates():
        assert parse_code(code) == (KINDS[code.split(".")[0]], channel)
        assert (subject is None) == (channel is Channel.SMS)


@pytest.mark.parametrize(("code", "channel", "subject", "body"), default_templates())
def test_every_default_renders_against_its_sample(code, channel, subject, body):
    kind, _ = parse_code(code)
    rendered_subject, text = render_message(channel, subject, body, sample_variables(kind))
    if kind.for_patient:
        assert "Asha" in text
    elif kind.secret:
        assert "[redacted]" in text
    assert "None" not in text
    assert "None" not in (rendered_subject or "")


@given(data=st.data())
def test_defaults_render_whatever_fields_an_event_leaves_out(data):
    kind = data.draw(st.sampled_from(list(KINDS.values())))
    present = data.draw(st.sets(st.sampled_from(kind.fields)))
    payload = {name: value for name, value in kind.sample.items() if name in present}
    variables = variables_for(kind, payload, first_name="Asha", currency="INR", tz=UTC)
    for channel in kind.channels:
        _subject, text = render_message(channel, *kind.default(channel), variables)
        assert text.strip()


def test_codes_name_a_kind_and_a_channel():
    assert template_code("order_failed", Channel.SMS) == "order_failed.sms"
    assert parse_code("order_failed.sms") == (KINDS["order_failed"], Channel.SMS)
    for code in ("order_failed.fax", "order_failed", "nothing.email", ".email", "order_failed.sms.x"):
        assert parse_code(code) is None


# --- rendering in the sandbox --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("{{ ''.__class__ }}", "not allowed: access to attribute '__class__'"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allowed"),
        ("{{ cycler.__init__.__globals__ }}", "not allowed"),
        ("{{ lipsum.__globals__['os'] }}", "not allowed"),
        ("{{ number | attr('__class__') }}", "not allowed"),
        ("{{ '{0.__class__}'.format(number) }}", "not allowed"),
        ("{{ 'x' * 1001 }}", "not allowed: repeating with *"),
        ("{{ 2 ** 10 }}", "not allowed: the ** operator"),
        ("{{ range(100001) | list }}", "OverflowError"),
        ("{{ missing }}", "'missing' is undefined; the variables are"),
        ("{% if missing %}x{% endif %}", "'missing' is undefined"),
        ("{% include 'other' %}", "cannot include"),
        ("{% extends 'base' %}", "cannot include"),
        ("{{ number", "line 1:"),
        ("{{ 1 // 0 }}", "ZeroDivisionError"),
    ],
)
def test_the_sandbox_refuses_with_a_clear_message(source, says):
    with pytest.raises(TemplateProblem) as caught:
        render(source, sample_variables(BOOKED))
    assert caught.value.field == "body"
    assert says in caught.value.message


def refused_quickly(source: str, variables: dict | None = None) -> TemplateProblem:
    """Render `source`; it must be refused within 0.5 s of CPU and having used under 10 MB on its way.
    CPU time, not wall time: the budget is about work done, and a busy machine must not fail it."""
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(TemplateProblem) as caught:
            render(source, sample_variables(BOOKED) if variables is None else variables)
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5, f"the render took {elapsed:.1f}s of CPU"
    assert peak < 10_000_000, f"the render peaked at {peak / 1e6:.0f} MB"
    return caught.value


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("{% for a in range(10000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}ok", f"at most {RANGE_MAX}"),
        ("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", f"at most {LOOP_MAX}"),
        (
            "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            f"at most {LOOP_MAX}",
        ),
    ],
)
def test_nested_loops_stop_at_the_loop_budget_at_once(source, says):
    assert says in refused_quickly(source).message


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ('{{ "%50000000s" % first_name }}', "% formatting widths may be at most"),
        ('{{ "%.50000000f" % 1.5 }}', "% formatting widths may be at most"),
        ('{{ "%*s" % (50000000, first_name) }}', "may not take its width from the arguments"),
        ("{{ '%50000000s' | format(first_name) }}", "% formatting widths may be at most"),
        ("{{ '{:>50000000}'.format(first_name) }}", "format widths may be at most"),
        ("{{ '{:{w}}'.format(first_name, w=50000000) }}", "may not contain fields"),
        ("{{ first_name | center(50000000) }}", "the width of |center"),
        ("{{ first_name | indent(50000000) }}", "the width of |indent"),
        ("{{ ('x\n' * 500) | indent('y' * 1000) }}", "|indent would make"),
        ("{{ first_name | wordwrap(50000000) }}", "the width of |wordwrap"),
        ("{{ ('x ' * 500) | wordwrap(1, wrapstring='y' * 1001) }}", "repeating with *"),
        ("{{ first_name | truncate(50000000) }}", "the length of |truncate"),
        ("{{ [1, 2] | batch(50000000, 'x') | list }}", "the linecount of |batch"),
        ("{{ [1, 2] | slice(50000000) | list }}", "the slices of |slice"),
        ("{{ ('x' * 1000) | replace('x', 'y' * 1000) }}", "|replace would make"),
        ("{{ ('x' * 1000).replace('x', 'y' * 1000) }}", "replace() would make"),
        ("{{ first_name.ljust(50000000) }}", "the width of ljust()"),
        ("{{ first_name.center(50000000) }}", "the width of center()"),
        ("{{ ('x' * 1000) ~ '' + ('x' * 1000) * 20 }}", "repeating with *"),
        ("{{ lipsum(50000000) }}", "lipsum is not allowed"),
        (
            "{% set ns = namespace(x='ab') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
            "a namespace attribute makes",
        ),
        (
            "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
            "numbers in templates may not grow",
        ),
        ("{% macro f(s) %}{{ s }}{% endmacro %}{{ f(1) }}", "may not use {% macro %}"),
        ("{% set x %}{{ first_name }}{% endset %}{{ x }}", "may not use {% set %} blocks"),
        ("{% filter upper %}{{ first_name }}{% endfilter %}", "may not use {% filter %} blocks"),
        ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "may not use recursive loops"),
    ],
)
def test_nothing_in_a_template_makes_huge_values_out_of_small_ones(source, says):
    problem = refused_quickly(source)
    assert problem.message.startswith("not allowed: "), problem.message
    assert says in problem.message, problem.message


def test_output_is_counted_as_it_is_made():
    problem = refused_quickly(
        "{% for i in range(1000) %}{% for j in range(10) %}{{ 'x' * 900 }}{% endfor %}{% endfor %}"
    )
    assert problem.message == f"renders more than {BODY_MAX} characters; at most {BODY_MAX} are sent"


def test_moderate_widths_loops_and_namespaces_still_work():
    source = (
        "{{ '%-6s|%5.1f' % (first_name, 2.25) }} {{ '{:>6}'.format(number[-3:]) }} {{ first_name | center(9) }} "
        "{{ 'a b c' | wordwrap(3, wrapstring='/') }} {{ [1, 2, 3] | batch(2, 0) | list }} {{ range(3) | list }} "
        "{% set ns = namespace(total=0) %}{% for i in range(1, 5) %}{% set ns.total = ns.total + i %}{% endfor %}"
        "{{ ns.total }} {% for x in 'ab' %}{{ loop.index }}/{{ loop.length }}{% else %}none{% endfor %}"
    )
    assert render(source, sample_variables(BOOKED)) == (
        "Asha  |  2.2    042    Asha   a b/c [[1, 2], [3, 0]] [0, 1, 2] 10 1/22/2"
    )


def test_a_render_stops_itself_at_its_time_limit():
    with pytest.raises(TemplateProblem, match="takes longer than 0 s to render"):
        render("{% for i in range(10) %}{{ i }}{% endfor %}", {}, time_limit=0)


def test_a_template_is_checked_without_its_kinds_optional_fields_too():
    cancelled = KINDS["appointment_cancelled"]
    source = "Dear {{ first_name }}, cancelled: {{ reason[:80] }}"
    assert "The patient asked" in render(source, sample_variables(cancelled))  # the sample alone lets it pass
    with pytest.raises(TemplateProblem) as caught:
        check_template(cancelled, Channel.EMAIL, "Cancelled", source, UTC, time_limit=2)
    assert caught.value.field == "body"
    assert caught.value.message.endswith("(when reason absent (None))"), caught.value.message
    check_template(cancelled, Channel.EMAIL, "Cancelled", "{{ (reason or 'no reason')[:80] }}", UTC, time_limit=2)


def test_an_invoice_template_is_checked_without_each_of_its_optional_fields():
    invoice = KINDS["invoice_issued"]
    # The sample is for an appointment (order_id None); real invoices may be for an order instead.
    with pytest.raises(TemplateProblem, match=r"\(when appointment_id and order_id absent \(None\)\)"):
        check_template(invoice, Channel.SMS, None, "{{ appointment_id[:8] }}", UTC, time_limit=2)


# --- secrets -------------------------------------------------------------------------------------

RESET = KINDS["password_reset"]


def test_a_secret_never_reaches_the_variables_and_is_put_in_only_when_sent():
    payload = {"token": "s3cr3t-token", "expires_at": "2030-01-07T09:30:00Z", "email": "a@example.org"}
    variables = variables_for(RESET, payload, first_name="", currency="INR", tz=UTC)
    assert variables == {
        "token": SECRET_PLACEHOLDER,
        "expires_at": "Monday 7 January 2030, 09:30 UTC",
        "email": "a@example.org",
    }
    _subject, body = render_kind(RESET, Channel.EMAIL, *RESET.default(Channel.EMAIL), variables)
    assert "s3cr3t-token" not in body
    assert "    [redacted]\n" in body
    assert "s3cr3t-token" in reveal(body, "s3cr3t-token")
    assert reveal(body, None) == body


@pytest.mark.parametrize(
    ("subject", "body", "field", "says"),
    [
        ("Reset", "Your code: {{ token | upper }}", "body", "must show {{ token }} as it is"),
        ("Reset", "No code here, {{ email }}", "body", "must show {{ token }} as it is"),
        ("Code {{ token }}", "Your code: {{ token }}", "subject", "must not show {{ token }}"),
    ],
)
def test_a_password_reset_template_shows_the_token_as_it_is_and_only_in_the_body(subject, body, field, says):
    with pytest.raises(TemplateProblem) as caught:
        check_template(RESET, Channel.EMAIL, subject, body, UTC, time_limit=2)
    assert (caught.value.field, says in caught.value.message) == (field, True)


def test_a_little_repetition_is_fine():
    assert render("{{ '-' * 10 }}", {}) == "-" * 10


def test_output_is_not_escaped_and_keeps_its_last_newline():
    assert render("<b>{{ name }}</b> & co\n", {"name": "O'Brien <x>"}) == "<b>O'Brien <x></b> & co\n"


def test_huge_or_nul_output_is_refused():
    with pytest.raises(TemplateProblem, match=f"renders more than {BODY_MAX} characters"):
        render("{% for i in range(1000) %}{% for j in range(10) %}{{ i }}{% endfor %}{% endfor %}", {})
    with pytest.raises(TemplateProblem, match="NUL"):
        render("{{ text }}", {"text": "a\x00b"})


def test_a_subject_is_one_line_however_the_variables_look():
    subject, _ = render_message(Channel.EMAIL, "Hi {{ name }}", "Body", {"name": "Ravi\r\nBcc: spy@example.org"})
    assert subject == "Hi Ravi Bcc: spy@example.org"


def test_a_long_subject_is_cut():
    subject, _ = render_message(Channel.EMAIL, "{{ text }}", "Body", {"text": "x" * 500})
    assert len(subject) == SUBJECT_MAX
    assert subject.endswith("…")


@pytest.mark.parametrize(
    ("channel", "subject", "body", "field", "says"),
    [
        (Channel.SMS, "Hi", "Body", "subject", "an SMS has no subject"),
        (Channel.EMAIL, None, "Body", "subject", "an email needs a subject"),
        (Channel.EMAIL, "{{ '' }}", "Body", "subject", "renders empty"),
        (Channel.EMAIL, "Hi", "{{ '  ' }}", "body", "renders empty"),
        (Channel.EMAIL, "{{ nope }}", "Body", "subject", "'nope' is undefined"),
    ],
)
def test_messages_need_what_their_channel_needs(channel, subject, body, field, says):
    with pytest.raises(TemplateProblem) as caught:
        render_message(channel, subject, body, {})
    assert (caught.value.field, says in caught.value.message) == (field, True)


# --- recipients and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "phone", "expected"),
    [
        ("a@example.org", "+911234567", [(Channel.EMAIL, "a@example.org"), (Channel.SMS, "+911234567")]),
        ("a@example.org", None, [(Channel.EMAIL, "a@example.org")]),
        (None, "+911234567", [(Channel.SMS, "+911234567")]),
        (None, None, []),
        ("", "", []),
    ],
)
def test_one_message_per_channel_the_patient_can_be_reached_on(email, phone, expected):
    assert addresses(email, phone) == expected


@given(
    attempt=st.integers(1, 200),
    base=st.floats(0.1, 100),
    cap=st.floats(1, 10_000),
    jitter=st.floats(0, 1),
)
def test_backoff_doubles_up_to_the_cap_with_at_most_half_taken_off(attempt, base, cap, jitter):
    full = min(cap, base * 2 ** min(attempt - 1, 62))
    delay = backoff_seconds(attempt, base, cap, jitter)
    assert full / 2 <= delay <= full
    assert delay <= cap


def test_backoff_examples():
    assert [backoff_seconds(n, 30, 3600, 1.0) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_seconds(20, 30, 3600, 1.0) == 3600
    assert backoff_seconds(1, 30, 3600, 0.0) == 15


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.5), (1, -0.1), (1, 1.5)])
def test_backoff_refuses_nonsense(attempt, jitter):
    with pytest.raises(ValueError):
        backoff_seconds(attempt, 1, 10, jitter)


@pytest.mark.parametrize(("attempts", "status"), [(1, Status.QUEUED), (4, Status.QUEUED), (5, Status.FAILED)])
def test_the_last_attempt_fails_the_message(attempts, status):
    assert status_after_failure(attempts, 5) is status


# --- SMTP URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example.org", SmtpTarget("mail.example.org", 25)),
        ("smtp://mail.example.org:2525", SmtpTarget("mail.example.org", 2525)),
        (
            "smtp://user:p%40ss@mail.example.org:587?starttls=true",
            SmtpTarget("mail.example.org", 587, "user", "p@ss", start_tls=True),
        ),
        ("smtp://mail.example.org?starttls=true", SmtpTarget("mail.example.org", 587, start_tls=True)),
        ("smtp://mail.example.org?starttls=false", SmtpTarget("mail.example.org", 25, start_tls=False)),
        ("smtp://mail.example.org?ssl=true", SmtpTarget("mail.example.org", 465, use_tls=True, start_tls=False)),
        ("smtp://mail.example.org?ssl", SmtpTarget("mail.example.org", 465, use_tls=True, start_tls=False)),
        ("smtps://u:@mail.example.org", SmtpTarget("mail.example.org", 465, "u", "", use_tls=True, start_tls=False)),
    ],
)
def test_smtp_urls(url, target):
    assert parse_smtp_url(url) == target


@pytest.mark.parametrize(
    "url", ["http://mail.example.org", "smtp://", "smtp://mail.example.org?tls=1", "smtp://h?starttls=maybe"]
)
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_smtp_url(url)


def test_smtp_credentials_stay_out_of_reprs():
    assert "p@ss" not in repr(parse_smtp_url("smtp://user:p%40ss@mail.example.org"))
