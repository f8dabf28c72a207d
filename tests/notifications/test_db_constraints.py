"""The message table's invariants hold in the database itself, for writes that bypass the service."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from caremesh.notifications.models import Notification, NotificationTemplate
from tests.harness import T0

EVENT = uuid.uuid4()


def row(**overrides) -> dict:
    values = {
        "id": uuid.uuid4(),
        "channel": "email",
        "recipient": "ward-7@clinic.example.org",
        "recipient_id": None,
        "template": None,
        "subject": "Visiting hours",
        "body": "Visiting hours change on Monday.",
        "status": "queued",
        "attempts": 0,
        "source_event_id": EVENT,
        "next_attempt_at": T0,
        "created_at": T0,
    }
    values.update(overrides)
    return values


async def write(env, statement) -> None:
    async with env.db.engine.begin() as connection:
        await connection.execute(statement)


async def refused(env, statement, *names: str) -> None:
    """The write fails on a constraint whose name (PostgreSQL) or columns (SQLite) is among `names`."""
    before = await env.count("notifications")
    with pytest.raises(IntegrityError) as caught:
        await write(env, statement)
    assert any(name in str(caught.value) for name in names), caught.value
    assert await env.count("notifications") == before


async def test_a_second_message_for_one_event_and_channel_is_refused(env):
    await write(env, insert(Notification).values(row()))
    await refused(
        env,
        insert(Notification).values(row()),
        "uq_notifications_source_event_id_channel",
        "notifications.source_event_id, notifications.channel",
    )
    await write(env, insert(Notification).values(row(channel="sms", subject=None)))  # the other channel is fine


async def test_messages_without_an_event_are_not_limited(env):
    for _ in range(3):
        await write(env, insert(Notification).values(row(source_event_id=None)))
    assert await env.count("notifications") == 3


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"status": "bounced"}, "ck_notifications_status_known"),
        ({"channel": "fax"}, "ck_notifications_channel_known"),
        ({"attempts": -1}, "ck_notifications_attempts_not_negative"),
        ({"next_attempt_at": None}, "ck_notifications_queued_is_due_sometime"),
        ({"status": "sent", "sent_at": None}, "ck_notifications_sent_has_sent_at"),
        ({"channel": "sms"}, "ck_notifications_sms_has_no_subject"),
        ({"status": "failed", "next_attempt_at": None, "secret": "tok"}, "ck_notifications_secret_only_while_queued"),
    ],
)
async def test_impossible_rows_are_refused(env, change, constraint):
    await refused(env, insert(Notification).values(row(**change)), constraint)


async def test_a_sent_message_cannot_lose_its_time(env):
    values = row(status="sent", sent_at=T0 + timedelta(seconds=1), next_attempt_at=None)
    await write(env, insert(Notification).values(values))
    statement = update(Notification).where(Notification.id == values["id"]).values(sent_at=None)
    await refused(env, statement, "ck_notifications_sent_has_sent_at")


@pytest.mark.parametrize(
    ("channel", "subject", "constraint"),
    [
        ("email", None, "ck_notification_templates_email_has_subject"),
        ("sms", "Hello", "ck_notification_templates_sms_has_no_subject"),
        ("pager", None, "ck_notification_templates_channel_known"),
    ],
)
async def test_impossible_templates_are_refused(env, channel, subject, constraint):
    values = {
        "code": f"raw.{channel}",
        "channel": channel,
        "subject": subject,
        "body": "x",
        "version": 1,
        "created_at": T0,
        "updated_at": T0,
    }
    with pytest.raises(IntegrityError) as caught:
        await write(env, insert(NotificationTemplate).values(values))
    assert constraint in str(caught.value)


async def test_a_secret_is_kept_only_while_its_message_is_queued(env):
    values = row(secret="reset-token")
    await write(env, insert(Notification).values(values))  # queued: the dispatcher still needs it
    sent = {"status": "sent", "sent_at": T0, "next_attempt_at": None}
    statement = update(Notification).where(Notification.id == values["id"]).values(**sent)
    await refused(env, statement, "ck_notifications_secret_only_while_queued")
    await write(env, statement.values(secret=None))
