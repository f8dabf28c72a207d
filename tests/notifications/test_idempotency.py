"""One message per event and channel, however often and however concurrently the event arrives, and
a consumer that fails halfway leaves nothing behind."""

from __future__ import annotations

import asyncio
import uuid

from caremesh.lab.contract import LabResultReady
from caremesh.notifications import handlers, service
from caremesh.platform.messaging.consumer import list_dead_letters, replay_dead_letter, tables_of
from tests.builders.notifications import (
    advance,
    lab_result_ready,
    list_notifications,
    messages_of,
    publish,
    put_template,
)
from tests.builders.patients import make_patient

CONTENDERS = 12


async def deliver_again(env, event) -> None:
    """What a transport does when it redelivers: the same envelope to the same consumer."""
    async with env.uow() as uow:
        uow.session.add(
            tables_of(handlers.CONSUMER).deliveries(
                consumer=handlers.CONSUMER,
                event_id=event.id,
                event_type=event.type,
                envelope=event.to_dict(),
                attempts=0,
                next_attempt_at=env.clock.now(),
            )
        )


async def test_a_redelivered_event_makes_no_second_message(env):
    patient = await make_patient(env)
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await env.drain()
    first = await messages_of(env, event)

    await deliver_again(env, event)
    await env.drain()

    assert await messages_of(env, event) == first
    assert await env.count("notifications") == 2
    assert await env.count("event_deliveries") == 0


async def test_the_same_event_handled_twice_outside_the_inbox_still_makes_one_message_per_channel(env):
    patient = await make_patient(env)
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))

    for _ in range(2):
        async with env.uow() as uow:
            await handlers.notify_patient(uow, LabResultReady.from_payload(event.payload), event)

    assert await env.count("notifications") == 2
    assert sorted(m["channel"] for m in await list_notifications(env)) == ["email", "sms"]


async def test_concurrent_handling_of_one_event_makes_one_message_per_channel(env):
    patient = await make_patient(env)
    event = await publish(env, "lab.result_ready", lab_result_ready(patient["id"]))
    await env.warm_pool()

    async def handle() -> int:
        async with env.uow() as uow:
            return len(await service.notify_patient(uow, LabResultReady.from_payload(event.payload), event))

    created = await asyncio.gather(*(handle() for _ in range(CONTENDERS)))

    assert sum(created) == 2
    assert await env.count("notifications") == 2
    assert await env.count("audit_events", "action = 'notification.create'") == 2


def booked_with_a_nul_in_its_number(patient_id: str) -> dict:
    """An appointment.booked no default template can render: no message may carry a NUL character, and
    every default shows the number. (An edited template that fails gives way to the default; only a
    failing default fails the event.)"""
    return {
        "appointment_id": str(uuid.uuid4()),
        "number": "APT-2030-\x00001",
        "patient_id": patient_id,
        "practitioner_id": str(uuid.uuid4()),
        "specialty": "general_practice",
        "start": "2030-01-07T09:00:00Z",
        "end": "2030-01-07T09:30:00Z",
        "duration_minutes": 30,
        "status": "booked",
    }


async def book_unrenderable(env) -> None:
    # The email (rendered first) does without the number; the SMS, from the default template, fails.
    email = await put_template(env, "appointment_booked.email", "Visit on {{ start }}.", subject="Your visit")
    assert email.status_code == 200, email.text
    patient = await make_patient(env)
    await publish(env, "appointment.booked", booked_with_a_nul_in_its_number(patient["id"]))


async def test_a_failing_render_leaves_no_half_written_messages_and_the_redelivery_completes(env):
    await book_unrenderable(env)

    await env.drain()

    assert await env.count("notifications") == 0
    assert await env.count("audit_events", "action = 'notification.create'") == 0
    assert await env.count("event_deliveries", "consumer = 'notifications' AND attempts = 1") == 1
    assert await env.count("inbox", "consumer = 'notifications' AND event_type = 'appointment.booked'") == 0

    fixed = await put_template(env, "appointment_booked.sms", "Visit at {{ start }}.")
    assert fixed.status_code == 200, fixed.text
    await advance(env, seconds=2)  # past the consumer's backoff
    await env.drain()

    messages = await list_notifications(env)
    assert sorted(m["channel"] for m in messages) == ["email", "sms"]
    assert next(m for m in messages if m["channel"] == "sms")["body"] == "Visit at Monday 7 January 2030, 09:00 UTC."
    assert await env.count("event_deliveries") == 0


async def test_a_dead_lettered_event_replayed_after_the_fix_makes_its_messages(env):
    await book_unrenderable(env)
    for _ in range(3):  # the test settings give up after 3 attempts
        await env.drain()
        await advance(env, minutes=1)
    [dead] = await dead_letters(env)
    assert dead.error.startswith("TemplateProblem: body: must not render NUL characters")
    assert await env.count("notifications") == 0

    await put_template(env, "appointment_booked.sms", "Visit on {{ start }}.")
    async with env.db.sessionmaker() as session, session.begin():
        assert await replay_dead_letter(session, dead.id, env.clock.now())
    await env.drain()

    assert sorted(m["body"] for m in await list_notifications(env) if m["channel"] == "sms") == [
        "Visit on Monday 7 January 2030, 09:00 UTC."
    ]


async def dead_letters(env):
    async with env.db.sessionmaker() as session:
        return await list_dead_letters(session)
