"""Retention: what the messaging tables may forget once it is old enough.

Unpublished outbox events, pending deliveries and dead letters not yet replayed are never pruned. The
inbox keeps an event id as long as a redelivery of it could still arrive, so the retention period must
exceed the transport's redelivery window (in process: deliveries are deleted once handled and a replayed
dead letter was never handled; with a broker: its maximum message age).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.messaging.models import every_messaging_set


@dataclass(frozen=True)
class Pruned:
    outbox_events: int
    inbox_entries: int
    dead_letters: int


async def prune(session: AsyncSession, *, before: datetime) -> Pruned:
    """Delete published outbox events, inbox entries and replayed dead letters older than `before`, in
    every context's tables."""
    outbox = inbox = dead = 0
    for tables in every_messaging_set(session.bind.dialect.name):
        outbox += await _delete(
            session, tables.outbox, tables.outbox.published_at.is_not(None), tables.outbox.published_at < before
        )
        inbox += await _delete(session, tables.inbox, tables.inbox.processed_at < before)
        dead += await _delete(
            session,
            tables.dead_letters,
            tables.dead_letters.replayed_at.is_not(None),
            tables.dead_letters.replayed_at < before,
        )
    return Pruned(outbox, inbox, dead)


async def _delete(session: AsyncSession, model: type[Any], *conditions: Any) -> int:
    return (await session.execute(delete(model).where(*conditions))).rowcount
