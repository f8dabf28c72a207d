"""Retention: what the messaging tables may forget once it is old enough.

Unpublished outbox events, pending deliveries and dead letters not yet replayed are never pruned. The
inbox keeps an event id as long as a redelivery of it could still arrive, so the retention period must
exceed the transport's redelivery window (in process: deliveries are deleted once handled and a replayed
dead letter was never handled; with a broker: its maximum message age).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.messaging.models import DeadLetter, InboxEntry, OutboxEvent


@dataclass(frozen=True)
class Pruned:
    outbox_events: int
    inbox_entries: int
    dead_letters: int


async def prune(session: AsyncSession, *, before: datetime) -> Pruned:
    """Delete published outbox events, inbox entries and replayed dead letters older than `before`."""
    outbox = await session.execute(
        delete(OutboxEvent).where(OutboxEvent.published_at.is_not(None), OutboxEvent.published_at < before)
    )
    inbox = await session.execute(delete(InboxEntry).where(InboxEntry.processed_at < before))
    dead = await session.execute(
        delete(DeadLetter).where(DeadLetter.replayed_at.is_not(None), DeadLetter.replayed_at < before)
    )
    return Pruned(outbox.rowcount, inbox.rowcount, dead.rowcount)
