"""Delivery of queued notifications: the dispatcher's claims, and the outcome of each attempt."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.notifications import domain
from caremesh.notifications.domain import Channel, OutgoingMessage, Status
from caremesh.notifications.models import Notification
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.notifications")


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Queued, due, and not leased to a sender (or its lease ran out)."""
    return (
        Notification.status == Status.QUEUED,
        Notification.next_attempt_at <= now,
        or_(Notification.lease_until.is_(None), Notification.lease_until <= now),
    )


async def any_due(session: AsyncSession, now: datetime) -> bool:
    """A cheap look on a read-only session, so an idle dispatcher never takes SQLite's write lock."""
    return bool(await session.scalar(select(exists().where(*_due(now)))))


async def claim_due(uow: UnitOfWork, *, limit: int, lease_seconds: float) -> list[OutgoingMessage]:
    """Lease up to `limit` due messages and count an attempt on each.

    One UPDATE whose WHERE repeats the due-and-free test: on PostgreSQL the candidates are taken
    FOR UPDATE SKIP LOCKED and the test is re-checked on the locked row, so concurrent dispatchers
    claim disjoint sets; SQLite runs writers one at a time. A crashed sender's lease runs out and
    the message is claimed again.
    """
    now = uow.now()
    due = _due(now)
    # A materialised CTE runs once; as a plain IN-subquery PostgreSQL may rescan it per row and so
    # lock (and claim) more than `limit` rows.
    candidates = (
        select(Notification.id)
        .where(*due)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claimed = await uow.session.execute(
        update(Notification)
        .where(Notification.id.in_(select(candidates.c.id)), *due)
        .values(attempts=Notification.attempts + 1, lease_until=now + timedelta(seconds=lease_seconds))
        .returning(
            Notification.id,
            Notification.channel,
            Notification.recipient,
            Notification.subject,
            Notification.body,
            Notification.secret,
            Notification.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    return [
        OutgoingMessage(
            id=id_,
            channel=Channel(channel),
            recipient=recipient,
            subject=subject,
            body=domain.reveal(body, secret),
            attempts=n,
        )
        for id_, channel, recipient, subject, body, secret, n in claimed
    ]


async def _settle(uow: UnitOfWork, message: OutgoingMessage, **values: Any) -> bool:
    """Write the outcome of an attempt, unless the lease was lost (a later claim counted another attempt)."""
    result = await uow.session.execute(
        update(Notification)
        .where(
            Notification.id == message.id,
            Notification.status == Status.QUEUED,
            Notification.attempts == message.attempts,
        )
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        log.warning("notification_lease_lost", notification_id=str(message.id), attempts=message.attempts)
        return False
    return True


async def record_sent(uow: UnitOfWork, message: OutgoingMessage) -> None:
    settled = await _settle(
        uow, message, status=Status.SENT, sent_at=uow.now(), next_attempt_at=None, last_error=None, secret=None
    )
    if settled:
        audit.record(uow, "notification.deliver", "notification", message.id)


def describe(error: BaseException) -> str:
    """What `last_error` keeps of a failed attempt (it is never logged: it may quote the address)."""
    text = str(error).strip()
    return (f"{type(error).__name__}: {text}" if text else type(error).__name__)[:500]


async def record_failure(
    uow: UnitOfWork, message: OutgoingMessage, error: BaseException, *, permanent: bool = False
) -> Status:
    """Back off and try again later, or fail for good after the last attempt (or a permanent refusal)."""
    settings = uow.settings.notifications
    next_status = domain.status_after_failure(message.attempts, settings.notification_max_attempts)
    facts = {
        "notification_id": str(message.id),
        "channel": message.channel.value,
        "attempts": message.attempts,
        "error_type": type(error).__name__,
    }
    if permanent or next_status is Status.FAILED:
        failed = {"status": Status.FAILED, "next_attempt_at": None, "last_error": describe(error), "secret": None}
        if await _settle(uow, message, **failed):
            audit.record(uow, "notification.fail", "notification", message.id)
            log.error("notification_failed", permanent=permanent, **facts)
        return Status.FAILED
    delay = domain.backoff_seconds(
        message.attempts,
        settings.notification_backoff_base_seconds,
        settings.notification_backoff_max_seconds,
        random.random(),
    )
    retry_at = uow.now() + timedelta(seconds=delay)
    if await _settle(uow, message, next_attempt_at=retry_at, last_error=describe(error)):
        log.warning("notification_retry_scheduled", retry_in=round(delay, 3), **facts)
    return Status.QUEUED
