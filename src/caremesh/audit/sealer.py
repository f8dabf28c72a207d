"""The sealer: chains committed, unsealed audit events shortly after their transactions commit.

Transactions only insert their events (no lock, no read of the chain); one sealer at a time, in any number of
processes, takes the head row FOR UPDATE, gives the oldest unsealed events (by insertion position) the next
`seq`, `prev_hash` and `hash`, and advances the head, all in one transaction: a batch is sealed entirely or not
at all, and never twice (the head's lock serialises sealers; the database refuses to update a sealed event)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit.domain import RECORDED, chained_digest
from caremesh.audit.models import AuditChainHead, AuditEvent
from caremesh.platform.jobs import PollingJob
from caremesh.platform.uow import UnitOfWorkFactory

HEAD_ID = 1
_sealers: weakref.WeakSet[Sealer] = weakref.WeakSet()  # this process's, woken after each commit that recorded


def wake_sealers() -> None:
    for sealer in list(_sealers):
        sealer.wake()


class Sealer(PollingJob):
    """Runs on the one polling base (woken after every commit that recorded, lingering 2 ms so that commits
    arriving together are sealed in one batch), but looks without waiting: while a sealer elsewhere holds the head
    it looks again in `busy_seconds`."""

    name = "audit-sealer"

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        batch_size: int = 500,
        poll_seconds: float | None = None,
        linger_seconds: float = 0.002,
        busy_seconds: float = 0.01,
    ) -> None:
        """`poll_seconds`: how often to look without being woken (default: the relay's poll interval);
        `linger_seconds`: how long to let commits arriving together gather after a wake; `busy_seconds`: when to
        look again while another process's sealer holds the head."""
        self.db = uow_factory.db
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds or uow_factory.settings.messaging.relay_poll_seconds
        self.linger_seconds = linger_seconds
        self.busy_seconds = busy_seconds
        _sealers.add(self)

    async def run_once(self) -> int:
        """Seal one batch, waiting for a sealer at work elsewhere to finish first; returns how many were sealed."""
        return await self.seal(wait=True) or 0

    async def run_pass(self) -> int:
        """Seal one batch if the head is free (SKIP LOCKED); if another sealer holds it, wait `busy_seconds` and
        report a full batch, so that the loop looks again at once rather than at the next poll."""
        sealed = await self.seal(wait=False)
        if sealed is None:
            await asyncio.sleep(self.busy_seconds)
            return self.batch_size
        return sealed

    async def seal(self, *, wait: bool) -> int | None:
        """Seal up to `batch_size` events in one transaction; None when another sealer holds the head and `wait` is
        false (it seals what is committed by the time it looks)."""
        async with self.db.sessionmaker() as session, session.begin():
            head = await session.scalar(
                select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).with_for_update(skip_locked=not wait)
            )
            if head is None:  # migration 0003 inserts the row: it is locked by another sealer
                return None
            events = (
                await session.execute(
                    select(*_RECORDED)
                    .where(AuditEvent.seq.is_(None))
                    .order_by(AuditEvent.position)
                    .limit(self.batch_size)
                )
            ).all()
            if not events:
                return 0
            seq, prev = head.last_seq, head.last_hash
            seals: list[dict[str, Any]] = []
            for event in events:
                seq += 1
                digest = chained_digest(event, seq, prev)
                seals.append({"position": event.position, "seq": seq, "prev_hash": prev, "hash": digest})
                prev = digest
            await self.write(session, seals)
        return len(seals)

    async def write(self, session: AsyncSession, seals: list[dict[str, Any]]) -> None:
        """Seal the events (by position) and advance the head to the last one, in the sealer's transaction."""
        await session.execute(update(AuditEvent), seals)  # one executemany, by primary key
        last = seals[-1]
        await session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.id == HEAD_ID)
            .values(last_seq=last["seq"], last_hash=last["hash"])
        )


# Where an unsealed event stands, and what its hash covers.
_RECORDED = (AuditEvent.position, *(getattr(AuditEvent, name) for name in RECORDED))
