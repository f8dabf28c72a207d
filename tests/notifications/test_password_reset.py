"""Password reset tokens: identity's `user.password_reset_requested` becomes one email to the user, whose
token reaches the mail server but never stays in our tables."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from caremesh.identity import contract as identity
from caremesh.notifications import service
from caremesh.notifications.models import Notification
from tests.builders.notifications import URL, advance, assert_problem, list_notifications, publish, send
from tests.builders.patients import make_patient
from tests.notifications.helpers import free_port, smtp_server

EMAIL = "forgetful@example.org"
NEW_PASSWORD = "a-much-longer-Passphrase-2030"
# The default template shows the token alone on an indented line.
TOKEN_LINE = re.compile(r"^ {4}(\S+)\r?$", re.MULTILINE)


async def request_reset(env, email: str = EMAIL) -> None:
    response = await env.client.post("/api/v1/auth/password-reset/request", json={"email": email})
    assert response.status_code == 202, response.text


async def stored_rows(env) -> list[dict]:
    """Every column of every message, as the database holds it."""
    async with env.db.engine.connect() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(Notification.__table__))]


async def test_the_reset_email_brings_a_working_token_that_no_stored_message_keeps(make_env):
    with smtp_server() as server:
        async with make_env(notifications={"smtp_url": server.url}) as env:
            await env.user(["receptionist"], email=EMAIL)
            await request_reset(env)

            await env.drain()

            [message] = [m for m in await list_notifications(env) if m["recipient"] == EMAIL]
            [received] = server.messages
            token = TOKEN_LINE.search(received.get_content()).group(1)
            assert token != "[redacted]"
            assert received["To"] == EMAIL
            assert received["Subject"] == message["subject"] == "Reset your caremesh password"
            assert (message["status"], message["recipient_id"], message["template"]) == (
                "sent",
                None,
                "password_reset.email",
            )
            assert "\n    [redacted]\n" in message["body"]
            assert message["body"].replace("[redacted]", token) == received.get_content().replace("\r\n", "\n")
            [row] = await stored_rows(env)
            assert row["secret"] is None
            assert token not in repr(row)

            confirmed = await env.client.post(
                "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
            )
            assert confirmed.status_code == 204, confirmed.text


async def test_the_token_waits_for_retries_and_is_forgotten_once_the_message_fails(make_env):
    settings = {
        "smtp_url": f"smtp://127.0.0.1:{free_port()}",  # nobody listens
        "notification_max_attempts": 2,
        "notification_backoff_base_seconds": 10,
    }
    async with make_env(notifications=settings) as env:
        await env.user(["receptionist"], email=EMAIL)
        await request_reset(env)
        await env.drain()

        [queued] = await stored_rows(env)
        assert (queued["status"], queued["attempts"]) == ("queued", 1)
        token = queued["secret"]
        assert token
        assert token not in queued["body"]
        assert "[redacted]" in queued["body"]

        await advance(env, minutes=5)
        await env.drain()

        [failed] = await stored_rows(env)
        assert (failed["status"], failed["attempts"], failed["secret"]) == ("failed", 2, None)
        assert token not in repr(failed)


async def test_a_patient_never_sees_a_reset_message(env):
    patient = await make_patient(env, email=EMAIL)
    headers = await env.user(["patient"], patient_id=patient["id"], email=EMAIL)  # their own reset, even
    await request_reset(env)
    await env.drain()
    [message] = [m for m in await list_notifications(env) if m["template"] == "password_reset.email"]

    assert await list_notifications(env, headers=headers) == []
    assert_problem(await env.client.get(f"{URL}/{message['id']}", headers=headers), 404, "NOTIFICATION_NOT_FOUND")


async def test_an_unknown_address_gets_no_message(env):
    await request_reset(env, "nobody@example.org")
    await env.drain()
    assert await env.count("notifications") == 0


async def test_a_reset_event_without_a_usable_token_or_address_is_skipped(env):
    for payload in (
        {"user_id": str(uuid.uuid4()), "email": EMAIL, "expires_at": "2030-01-07T06:30:00Z"},
        {"user_id": str(uuid.uuid4()), "email": EMAIL, "reset_token": "has spaces", "expires_at": None},
        {"user_id": str(uuid.uuid4()), "email": "not an address", "reset_token": "tok", "expires_at": None},
    ):
        await publish(env, identity.PASSWORD_RESET_REQUESTED, payload)
    await env.drain()
    assert await env.count("notifications") == 0
    assert await env.count("event_deliveries") == await env.count("dead_letters") == 0


async def test_the_same_reset_event_handled_twice_makes_one_message(env):
    event = await publish(
        env,
        identity.PASSWORD_RESET_REQUESTED,
        {"user_id": str(uuid.uuid4()), "email": EMAIL, "reset_token": "tok-123", "expires_at": "2030-01-07T06:30:00Z"},
    )
    for _ in range(2):
        async with env.uow() as uow:
            await service.send_password_reset(uow, identity.PasswordResetRequested.from_payload(event.payload), event)
    await env.drain()
    [row] = await stored_rows(env)
    assert (row["source_event_id"], row["secret"], row["status"]) == (event.id, None, "sent")


async def test_a_reset_message_cannot_be_sent_by_hand(env):
    template = {"channel": None, "subject": None, "body": None, "template": "password_reset.email"}
    response = await send(env, **template, data={"token": "chosen-by-hand", "expires_at": None, "email": EMAIL})
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["errors"][0]["loc"] == ["template"]
    assert await env.count("notifications") == 0
