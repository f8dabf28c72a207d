"""Sending: real SMTP and webhook servers, retries with backoff, failure after the last attempt, leases."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from caremesh.notifications import delivery
from caremesh.notifications.jobs import NotificationDispatcher
from tests.builders.notifications import advance, list_notifications, make_notification, messages_of, publish
from tests.builders.notifications import order_failed as order_failed_payload
from tests.builders.patients import make_patient
from tests.notifications.helpers import dispatcher, free_port, smtp_server, webhook

BACKOFF = {"notification_backoff_base_seconds": 10, "notification_backoff_max_seconds": 3600}


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def email_of(env, event) -> dict:
    return (await messages_of(env, event))["email"]


async def order_failed(env, patient: dict):
    return await publish(env, "order.failed", order_failed_payload(patient["id"]))


# --- SMTP ----------------------------------------------------------------------------------------


async def test_email_goes_to_a_real_smtp_server(make_env):
    with smtp_server() as server:
        async with make_env(notifications={"smtp_url": server.url, "email_from": "Clinic <clinic@example.org>"}) as env:
            patient = await make_patient(env, first_name="Ravi", email="ravi.k@example.org")
            event = await order_failed(env, patient)

            await env.drain()

            email = await email_of(env, event)
    assert (email["status"], email["attempts"]) == ("sent", 1)
    [received] = server.messages
    assert received["To"] == "ravi.k@example.org"
    assert received["From"] == "Clinic <clinic@example.org>"
    assert received["Subject"] == "Your order could not be completed" == email["subject"]
    assert received["Message-ID"] == f"<{email['id']}@caremesh>"
    text = received.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends
    assert text == email["body"]
    assert text.startswith("Dear Ravi,\n\nyour order could not be completed because")
    assert server.inbox.envelopes == [("clinic@example.org", ["ravi.k@example.org"])]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_credentials_from_the_url_are_used(make_env):
    with smtp_server(credentials=("mailer", "s3cret pass")) as server:
        url = server.url.replace("s3cret pass", "s3cret%20pass")
        async with make_env(notifications={"smtp_url": url}) as env:
            event = await order_failed(env, await make_patient(env))
            await env.drain()
            assert (await email_of(env, event))["status"] == "sent"
    assert server.logins == ["mailer"]
    assert len(server.messages) == 1


async def test_a_down_smtp_server_is_retried_with_backoff_until_it_is_back(make_env):
    port = free_port()  # nobody listens here yet
    settings = {"smtp_url": f"smtp://127.0.0.1:{port}", "notification_max_attempts": 5, **BACKOFF}
    async with make_env(notifications=settings) as env:
        event = await order_failed(env, await make_patient(env))

        await env.drain()
        first = await email_of(env, event)
        assert (first["status"], first["attempts"]) == ("queued", 1)
        assert first["last_error"].startswith("SMTPConnectError")
        delay = instant(first["next_attempt_at"]) - env.clock.now()
        assert timedelta(seconds=5) <= delay <= timedelta(seconds=10)  # 10 s, less jitter of at most half

        await env.drain()  # not due yet: nothing is tried
        assert (await email_of(env, event))["attempts"] == 1

        env.clock.advance(seconds=10)
        await env.drain()
        second = await email_of(env, event)
        assert (second["status"], second["attempts"]) == ("queued", 2)
        delay = instant(second["next_attempt_at"]) - env.clock.now()
        assert timedelta(seconds=10) <= delay <= timedelta(seconds=20)  # doubled

        with smtp_server(port=port) as server:
            env.clock.advance(seconds=20)
            await env.drain()
            sent = await email_of(env, event)
        assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 3, None)
        assert sent["sent_at"] == env.clock.now().isoformat().replace("+00:00", "Z")
        assert len(server.messages) == 1


async def test_after_the_last_attempt_the_message_fails(make_env):
    settings = {"smtp_url": f"smtp://127.0.0.1:{free_port()}", "notification_max_attempts": 3, **BACKOFF}
    async with make_env(notifications=settings) as env:
        event = await order_failed(env, await make_patient(env))
        await env.drain()
        for attempts in (2, 3):
            await advance(env, hours=1)
            await env.drain()
            assert (await email_of(env, event))["attempts"] == attempts

        failed = await email_of(env, event)
        assert (failed["status"], failed["next_attempt_at"], failed["sent_at"]) == ("failed", None, None)
        assert failed["last_error"].startswith("SMTPConnectError")

        await advance(env, days=1)
        await env.drain()
        assert (await email_of(env, event))["attempts"] == 3  # never tried again
        assert await env.count("audit_events", "action = 'notification.fail'") == 1
        # The SMS went through the log channel meanwhile.
        assert (await messages_of(env, event))["sms"]["status"] == "sent"


async def test_a_refused_recipient_fails_at_once(make_env):
    with smtp_server() as server:
        server.inbox.refused.add("gone@example.org")
        async with make_env(notifications={"smtp_url": server.url, **BACKOFF}) as env:
            event = await order_failed(env, await make_patient(env, email="gone@example.org"))
            await env.drain()
            email = await email_of(env, event)
    assert (email["status"], email["attempts"]) == ("failed", 1)
    assert email["last_error"].startswith("DeliveryRefused")
    assert server.messages == []


# --- the SMS webhook -----------------------------------------------------------------------------


async def test_sms_goes_to_the_webhook(make_env):
    with webhook() as hook:
        async with make_env(notifications={"sms_webhook_url": hook.url}) as env:
            patient = await make_patient(env, first_name="Ravi", phone="+91 98000 11122")
            event = await order_failed(env, patient)
            await env.drain()
            sms = (await messages_of(env, event))["sms"]
    assert (sms["status"], sms["attempts"]) == ("sent", 1)
    [request] = hook.requests
    assert request["path"] == "/sms"
    assert request["json"] == {"to": "+919800011122", "body": sms["body"], "id": sms["id"]}
    assert request["headers"]["Idempotency-Key"] == sms["id"]
    assert sms["body"] == "caremesh: Ravi, your order could not be completed. Your care team will contact you."


async def test_a_failing_webhook_is_retried_and_the_attempts_count(make_env):
    with webhook(statuses=[500, 503, 204]) as hook:
        async with make_env(notifications={"sms_webhook_url": hook.url, **BACKOFF}) as env:
            event = await order_failed(env, await make_patient(env))
            await env.drain()
            sms = (await messages_of(env, event))["sms"]
            assert (sms["status"], sms["attempts"]) == ("queued", 1)
            assert sms["last_error"] == "ConnectionError: SMS webhook answered HTTP 500"

            env.clock.advance(seconds=10)
            await env.drain()
            assert (await messages_of(env, event))["sms"]["attempts"] == 2

            env.clock.advance(seconds=20)
            await env.drain()
            sms = (await messages_of(env, event))["sms"]
    assert (sms["status"], sms["attempts"], sms["last_error"]) == ("sent", 3, None)
    assert [r["json"]["id"] for r in hook.requests] == [sms["id"]] * 3


async def test_a_webhook_that_refuses_the_message_fails_it_at_once(make_env):
    with webhook(statuses=[400]) as hook:
        async with make_env(notifications={"sms_webhook_url": hook.url, **BACKOFF}) as env:
            event = await order_failed(env, await make_patient(env))
            await env.drain()
            await advance(env, hours=1)
            await env.drain()
            sms = (await messages_of(env, event))["sms"]
    assert (sms["status"], sms["attempts"]) == ("failed", 1)
    assert sms["last_error"] == "DeliveryRefused: SMS webhook answered HTTP 400"
    assert len(hook.requests) == 1


# --- leases --------------------------------------------------------------------------------------


async def test_a_claimed_message_is_not_sent_by_anyone_else_until_its_lease_runs_out(env):
    message = await make_notification(env)
    crashed = NotificationDispatcher(env.app.state.uow_factory)

    [claimed] = await crashed.claim()  # and then the process died before sending
    assert claimed.id.hex == message["id"].replace("-", "")

    assert await dispatcher(env).run_once() == 0
    env.clock.advance(seconds=crashed.lease_seconds - 1)
    assert await dispatcher(env).run_once() == 0
    env.clock.advance(seconds=1)
    assert await dispatcher(env).run_once() == 1

    [sent] = await list_notifications(env)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)

    # The first sender comes back to life: its outcome no longer counts.
    async with env.uow() as uow:
        await delivery.record_failure(uow, claimed, RuntimeError("late"))
    [still] = await list_notifications(env)
    assert (still["status"], still["attempts"], still["last_error"]) == ("sent", 2, None)


SENDERS = 6
MESSAGES = 30


async def test_concurrent_dispatchers_send_each_message_exactly_once(make_env):
    with smtp_server() as server:
        async with make_env(notifications={"smtp_url": server.url}) as env:
            for n in range(MESSAGES):
                await make_notification(env, recipient=f"ward-{n}@clinic.example.org")
            await env.warm_pool()
            senders = [NotificationDispatcher(env.app.state.uow_factory) for _ in range(SENDERS)]

            attempted = await asyncio.gather(*(sender.run_once() for sender in senders))

            messages = await list_notifications(env)
    assert sum(attempted) == MESSAGES
    assert max(attempted) <= senders[0].batch_size  # a claim never takes more than its batch
    assert len([n for n in attempted if n]) >= 2  # the work was really shared
    assert len(server.messages) == MESSAGES
    assert len({m["Message-ID"] for m in server.messages}) == MESSAGES
    assert {(m["status"], m["attempts"]) for m in messages} == {("sent", 1)}


@pytest.mark.parametrize("channel", ["email", "sms"])
async def test_without_smtp_or_webhook_the_log_channel_delivers(env, channel):
    recipient = "ward-7@clinic.example.org" if channel == "email" else "+919800011122"
    subject = "Hello" if channel == "email" else None
    await make_notification(env, channel=channel, recipient=recipient, subject=subject)
    assert await dispatcher(env).run_once() == 1
    [message] = await list_notifications(env)
    assert (message["status"], message["attempts"]) == ("sent", 1)
