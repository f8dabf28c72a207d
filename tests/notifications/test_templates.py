"""Templates: defaults created at start-up, edited by admins, checked in a sandbox before they are kept."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from caremesh.notifications import domain, service
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
from tests.builders.scheduling import make_appointment

CODE = "appointment_booked.email"
KINDS = [
    "appointment_booked",
    "appointment_cancelled",
    "invoice_issued",
    "lab_result_ready",
    "order_failed",
    "payment_completed",
    "payment_failed",
]


async def template(env, code: str = CODE) -> dict:
    response = await env.client.get(f"{TEMPLATES}/{code}", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_kind_has_an_email_and_an_sms_template(env):
    response = await env.client.get(TEMPLATES, headers=env.admin)

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    assert [t["code"] for t in page["items"]] == [f"{k}.{c}" for k in KINDS for c in ("email", "sms")]
    for item in page["items"]:
        assert item["version"] == 1
        assert (item["subject"] is None) == (item["channel"] == "sms")
        assert {"first_name", "currency"} <= set(item["variables"])
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
    assert len(codes) == 14
    assert codes == sorted(codes)


async def test_a_template_is_read_with_its_etag(env):
    response = await env.client.get(f"{TEMPLATES}/{CODE}", headers=env.admin)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    subject, body = domain.KINDS["appointment_booked"].default(domain.Channel.EMAIL)
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
    assert (restored["body"], restored["version"]) == (domain.KINDS["order_failed"].sms, 1)
    assert await env.count("notification_templates") == 14


async def test_a_missing_template_falls_back_to_the_default(env):
    async with env.uow() as uow:
        await uow.session.execute(delete(NotificationTemplate))
    patient = await make_patient(env, first_name="Ravi")
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await env.drain()
    sms = (await messages_of(env, event))["sms"]
    assert sms["body"] == "caremesh: Ravi, your lab results are ready. Sign in or ask your care team."
