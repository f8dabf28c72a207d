"""Templates: defaults created at start-up, edited by admins, checked in a sandbox before they are kept."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC

import pytest
from sqlalchemy import delete
from structlog.testing import capture_logs

from caremesh.notifications import catalogue, domain, rendering, service
from caremesh.notifications.models import NotificationTemplate
from tests.builders.notifications import (
    TEMPLATES,
    assert_problem,
    lab_result_ready,
    list_notifications,
    messages_of,
    publish,
    put_template,
)
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import at, make_appointment

CODE = "appointment_booked.email"
KINDS = [
    "appointment_booked",
    "appointment_cancelled",
    "claim_adjudicated",
    "claim_paid",
    "coverage_created",
    "email_verification",
    "imaging_reported",
    "invoice_issued",
    "lab_result_ready",
    "order_cancelled",
    "order_confirmed",
    "order_failed",
    "password_reset",
    "payment_completed",
    "payment_failed",
    "premium_invoice_issued",
    "refund_issued",
]
# Every patient's kind has an email and an SMS template; tokens and the billing office's messages go by email only.
EMAIL_ONLY = {"claim_adjudicated", "claim_paid", "email_verification", "password_reset"}
CODES = [f"{k}.{c}" for k in KINDS for c in ("email", "sms") if c == "email" or k not in EMAIL_ONLY]


async def template(env, code: str = CODE) -> dict:
    response = await env.client.get(f"{TEMPLATES}/{code}", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_kind_has_an_email_template_and_every_patients_kind_an_sms_one(env):
    response = await env.client.get(TEMPLATES, headers=env.admin)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    assert [t["code"] for t in page["items"]] == CODES
    for item in page["items"]:
        assert item["version"] == 1
        assert (item["subject"] is None) == (item["channel"] == "sms")
        if item["code"].partition(".")[0] not in EMAIL_ONLY:
            assert {"first_name", "currency"} <= set(item["variables"])
    reset = next(t for t in page["items"] if t["code"] == "password_reset.email")
    assert (reset["event_type"], reset["variables"]) == (
        "user.password_reset_requested",
        ["email", "expires_at", "token"],
    )
    booked = page["items"][0]
    assert (booked["event_type"], booked["channel"]) == ("appointment.booked", "email")
    assert booked["variables"] == [
        "appointment_id",
        "currency",
        "duration_minutes",
        "end",
        "first_name",
        "number",
        "specialty",
        "start",
    ]


async def test_templates_page_by_code(env):
    first = (await env.client.get(TEMPLATES, params={"limit": 5}, headers=env.admin)).json()
    rest = (await env.client.get(TEMPLATES, params={"cursor": first["next_cursor"]}, headers=env.admin)).json()
    codes = [t["code"] for t in first["items"] + rest["items"]]
    assert len(codes) == len(CODES) == 30
    assert codes == sorted(codes)


async def test_a_template_is_read_with_its_etag(env):
    response = await env.client.get(f"{TEMPLATES}/{CODE}", headers=env.admin)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    subject, body = catalogue.KINDS["appointment_booked"].default(domain.Channel.EMAIL)
    assert (response.json()["subject"], response.json()["body"]) == (subject, body)


@pytest.mark.parametrize("code", ["appointment_booked.fax", "nothing.email", "appointment_booked", "x" * 100])
async def test_an_unknown_template_is_not_found(env, code):
    assert_problem(await env.client.get(f"{TEMPLATES}/{code}", headers=env.admin), 404, "TEMPLATE_NOT_FOUND")
    assert_problem(await put_template(env, code, "Hello"), 404, "TEMPLATE_NOT_FOUND")


async def test_an_edit_changes_the_next_message(env):
    response = await put_template(
        env,
        CODE,
        subject="Booked: {{ number }} ({{ specialty }})",
        body="Hi {{ first_name }}, see you {{ start }} for {{ duration_minutes }} min.",
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    assert response.json()["version"] == 2
    assert await env.count("audit_events", "action = 'notification_template.update' AND entity_id = :c", c=CODE) == 1

    doctor = await make_practitioner(env, specialty="orthopedics")
    patient = await make_patient(env, first_name="Ravi")
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"])
    await env.drain()

    [email] = [m for m in await list_notifications(env, recipient_id=patient["id"]) if m["channel"] == "email"]
    assert email["subject"] == f"Booked: {appointment['number']} (orthopedics)"
    assert email["body"] == "Hi Ravi, see you Monday 7 January 2030, 09:00 UTC for 30 min."


async def test_an_sms_template_is_edited_without_a_subject(env):
    response = await put_template(env, "lab_result_ready.sms", "{{ first_name }}: results ready.")
    assert response.status_code == 200, response.text
    patient = await make_patient(env, first_name="Ravi")
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await env.drain()
    assert (await messages_of(env, event))["sms"]["body"] == "Ravi: results ready."


async def test_if_match_guards_against_lost_edits(env):
    ok = await put_template(env, CODE, "One {{ number }}", subject="S", headers={**env.admin, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text

    stale = await put_template(env, CODE, "Two {{ number }}", subject="S", headers={**env.admin, "If-Match": '"1"'})

    assert_problem(stale, 412, "VERSION_CONFLICT")
    current = await template(env)
    assert (current["body"], current["version"]) == ("One {{ number }}", 2)


SANDBOX_ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ number.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.system('id') }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ number | attr('__class__') }}",
    "{{ 'x' * 100000 }}",
    "{{ 9 ** 99999 }}",
    '{{ "%50000000s" % number }}',
    "{{ number | center(50000000) }}",
    "{{ '{:>50000000}'.format(number) }}",
    "{{ lipsum(50000000) }}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("body", SANDBOX_ESCAPES)
async def test_sandbox_escapes_are_refused_and_change_nothing(env, body):
    problem = assert_problem(await put_template(env, CODE, body, subject="Hi"), 422, "INVALID_TEMPLATE")

    assert problem["errors"][0]["loc"] == ["body"]
    assert "not allowed" in problem["errors"][0]["msg"] or "unsafe" in problem["errors"][0]["msg"]
    assert (await template(env))["version"] == 1
    assert await env.count("audit_events", "action = 'notification_template.update'") == 0


@pytest.mark.parametrize(
    ("subject", "body", "field", "says"),
    [
        ("Hi", "{{ patient.ssn }}", "body", "'patient' is undefined; the variables are appointment_id, currency"),
        ("Hi", "{{ first_name.ssn }}", "body", "has no attribute 'ssn'"),
        ("Hi", "{% for x in %}", "body", "line 1:"),
        ("Hi", "{% include 'other' %}", "body", "cannot include"),
        ("Hi", "{{ range(1000000) | list }}", "body", "OverflowError"),
        ("Hi", "{{ first_name + 1 }}", "body", "TypeError"),
        ("{{ nope }}", "Hello", "subject", "'nope' is undefined"),
        ("{{ '' }}", "Hello", "subject", "renders empty"),
        (None, "Hello", "subject", "an email needs a subject"),
    ],
)
async def test_broken_templates_are_refused_with_a_clear_message(env, subject, body, field, says):
    problem = assert_problem(await put_template(env, CODE, body, subject=subject), 422, "INVALID_TEMPLATE")
    [error] = problem["errors"]
    assert error["loc"] == [field]
    assert says in error["msg"], error["msg"]
    assert (await template(env))["version"] == 1


async def test_an_sms_template_has_no_subject(env):
    problem = assert_problem(await put_template(env, "order_failed.sms", "Hi", subject="Hi"), 422, "INVALID_TEMPLATE")
    assert problem["errors"] == [{"loc": ["subject"], "msg": "an SMS has no subject"}]


@pytest.mark.parametrize(
    "body",
    [{}, {"body": ""}, {"body": "x" * 10_001}, {"body": "x", "html": "<b>x</b>"}, {"body": 42}, {"body": "a\x00b"}],
)
async def test_malformed_edits_are_refused(env, body):
    response = await env.client.put(f"{TEMPLATES}/{CODE}", json=body, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert (await template(env))["version"] == 1


@pytest.mark.parametrize("role", ["receptionist", "doctor", "billing_clerk"])
async def test_only_admins_manage_templates(env, role):
    headers = await env.user([role])
    assert_problem(await env.client.get(TEMPLATES, headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(f"{TEMPLATES}/{CODE}", headers=headers), 403, "FORBIDDEN")
    assert_problem(await put_template(env, CODE, "Hi", subject="Hi", headers=headers), 403, "FORBIDDEN")
    assert (await template(env))["version"] == 1


async def test_start_up_adds_missing_templates_and_keeps_edited_ones(env):
    await put_template(env, CODE, "Edited {{ number }}", subject="Edited")
    async with env.uow() as uow:
        await uow.session.execute(delete(NotificationTemplate).where(NotificationTemplate.code == "order_failed.sms"))

    async with env.uow() as uow:
        await service.bootstrap(uow)

    edited = await template(env)
    assert (edited["subject"], edited["body"], edited["version"]) == ("Edited", "Edited {{ number }}", 2)
    restored = await template(env, "order_failed.sms")
    assert (restored["body"], restored["version"]) == (catalogue.KINDS["order_failed"].sms, 1)
    assert await env.count("notification_templates") == len(CODES)


async def test_a_missing_template_falls_back_to_the_default(env):
    async with env.uow() as uow:
        await uow.session.execute(delete(NotificationTemplate))
    patient = await make_patient(env, first_name="Ravi")
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await env.drain()
    sms = (await messages_of(env, event))["sms"]
    assert sms["body"] == "caremesh: Ravi, your lab results are ready. Sign in or ask your care team."


async def test_a_template_that_fails_without_an_optional_field_is_refused_so_cancellations_without_reason_are_sent(
    env,
):
    """The sample cancellation has a reason; real ones may not. The template is checked without it too."""
    refused = await put_template(
        env, "appointment_cancelled.email", "Dear {{ first_name }}, cancelled: {{ reason[:80] }}", subject="Cancelled"
    )
    problem = assert_problem(refused, 422, "INVALID_TEMPLATE")
    assert problem["errors"] == [
        {"loc": ["body"], "msg": "TypeError: 'NoneType' object is not subscriptable (when reason absent (None))"}
    ]
    accepted = await put_template(
        env, "appointment_cancelled.email", "Cancelled{% if reason %}: {{ reason[:80] }}{% endif %}.", subject="Hi"
    )
    assert accepted.status_code == 200, accepted.text

    patient = await make_patient(env)
    appointment = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=(await make_practitioner(env))["id"], start=at(10)
    )
    cancelled = await env.client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=env.admin)
    assert cancelled.status_code == 200, cancelled.text
    await env.drain()

    messages = {
        m["channel"]: m
        for m in await list_notifications(env, recipient_id=patient["id"])
        if m["template"].startswith("appointment_cancelled")
    }
    assert sorted(messages) == ["email", "sms"]
    assert messages["email"]["body"] == "Cancelled."
    assert await env.count("dead_letters") == 0


# Renders for the sample (30 minutes) and without optional fields (a booking has none), not for 45 minutes.
BREAKS_ON_45_MINUTES = "Visit {{ number }}: {{ 100 // (duration_minutes - 45) }}"


async def test_an_edited_template_that_fails_for_an_event_gives_way_to_the_default(env):
    assert (await put_template(env, "appointment_booked.sms", BREAKS_ON_45_MINUTES)).status_code == 200
    doctor, patient = await make_practitioner(env), await make_patient(env, first_name="Ravi")

    with capture_logs() as logs:
        appointment = await make_appointment(
            env, patient_id=patient["id"], practitioner_id=doctor["id"], duration_minutes=45
        )
        await env.drain()

    messages = {m["channel"]: m for m in await list_notifications(env, recipient_id=patient["id"])}
    assert sorted(messages) == ["email", "sms"]
    assert messages["sms"]["body"] == (
        f"caremesh: Ravi, your appointment {appointment['number']} is booked for Monday 7 January 2030, 09:00 UTC."
    )
    assert await env.count("event_deliveries") == await env.count("dead_letters") == 0
    [warning] = [entry for entry in logs if entry["event"] == "notification_template_failed"]
    assert warning == {
        "event": "notification_template_failed",
        "log_level": "warning",
        "template": "appointment_booked.sms",
        "error_type": "ZeroDivisionError",
    }


async def test_a_render_runs_in_a_worker_thread_and_is_given_up_on_at_its_time_limit():
    """The event loop keeps serving while a template renders; a render that overruns is a TemplateProblem."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def stubborn(*, time_limit: float) -> str:  # a render that ignores its own budget
        time.sleep(1.0)
        return "late"

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    try:
        with pytest.raises(rendering.TemplateProblem, match=r"takes longer than 0\.1 s to render"):
            await service.render_off_loop(stubborn, time_limit=0.1)
    finally:
        ticker.cancel()
    assert time.perf_counter() - started < 0.9  # 0.1 s and the grace of 0.5 s, not the whole second
    assert ticks >= 5  # the loop was free while the worker slept

    booked = catalogue.KINDS["appointment_booked"]
    with pytest.raises(rendering.TemplateProblem, match="takes longer than 0 s to render"):
        await service.render_off_loop(
            rendering.check_template, booked, domain.Channel.SMS, None, "{{ number }}", UTC, time_limit=0
        )


async def test_a_password_reset_template_must_show_the_token_as_it_is(env):
    code = "password_reset.email"
    refused = await put_template(env, code, "Your code: {{ token | upper }}", subject="Reset")
    assert assert_problem(refused, 422, "INVALID_TEMPLATE")["errors"][0]["loc"] == ["body"]
    in_subject = await put_template(env, code, "Code: {{ token }}", subject="Code {{ token }}")
    assert assert_problem(in_subject, 422, "INVALID_TEMPLATE")["errors"][0]["loc"] == ["subject"]
    accepted = await put_template(
        env, code, "Code for {{ email }}: {{ token }} (until {{ expires_at }})", subject="Reset"
    )
    assert accepted.status_code == 200, accepted.text
    assert_problem(await put_template(env, "password_reset.sms", "{{ token }}"), 404, "TEMPLATE_NOT_FOUND")
