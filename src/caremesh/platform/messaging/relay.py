"""The relay: moves committed outbox events to the transport, after their transaction committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

import structlog
from sqlalchemy import select

from caremesh.platform.clock import Clock
from caremesh.platform.db import Database
from caremesh.platform.messaging.bus import EventTransport
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import OutboxColumns, every_messaging_set
from caremesh.platform.wakeup import woken

log = structlog.get_logger("caremesh.relay")


def envelope_of(row: OutboxColumns) -> Envelope:
    return Envelope(
        id=row.id,
        type=row.type,
        version=row.version,
        occurred_at=row.occurred_at,
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        payload=row.payload,
    )


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        transport: EventTransport,
        clock: Clock,
        *,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        on_published: Callable[[], None] | None = None,
        schemas: Collection[str] | None = None,
    ) -> None:
        """`schemas`: the logical schemas whose outboxes this relay drains (None: every one)."""
        self.db = db
        self.transport = transport
        self.clock = clock
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._on_published = on_published or (lambda: None)
        self.schemas = None if schemas is None else frozenset(schemas)
        self._wake = asyncio.Event()
        self._written: set[str] = set()

    def wake(self, outboxes: Collection[str] | None = None) -> None:
        """Events were committed to `outboxes` (None: somewhere): look there now, not at every outbox."""
        self._written.update(outboxes if outboxes is not None else self._every_schema())
        self._wake.set()

    def _every_schema(self) -> set[str]:
        return {tables.schema for tables in every_messaging_set(self.db.dialect)}

    async def run_once(self, outboxes: Collection[str] | None = None) -> int:
        """Publish one batch of unpublished events from each outbox (every context's and the platform's, or
        those of `outboxes`; on SQLite the one table); returns how many. Order holds within one outbox, not
        across them."""
        async with self.db.sessionmaker() as session, session.begin():
            rows: list[Any] = []
            for tables in every_messaging_set(self.db.dialect):
                if self.schemas is not None and self.db.dialect != "sqlite" and tables.schema not in self.schemas:
                    continue  # another process relays that context's events
                if outboxes is not None and self.db.dialect != "sqlite" and tables.schema not in outboxes:
                    continue
                outbox = tables.outbox
                rows += (
                    await session.scalars(
                        select(outbox)
                        .where(outbox.published_at.is_(None))
                        .order_by(outbox.seq)
                        .limit(self.batch_size)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            if not rows:
                return 0
            await self.transport.publish(session, [envelope_of(row) for row in rows])
            now = self.clock.now()
            for row in rows:
                row.published_at = now
        self._on_published()
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while count := await self.run_once():
            total += count
        return total

    async def run_forever(self) -> None:
        """Woken after a commit, look in the outboxes it wrote to; every `poll_seconds`, in all of them (events
        committed by another process, or left by a relay that died)."""
        outboxes: set[str] | None = None
        while True:
            self._wake.clear()  # before looking, so a wake during the look is not lost
            written, self._written = self._written, set()
            if outboxes is not None:
                outboxes |= written
            try:
                if await self.run_once(outboxes) >= self.batch_size:
                    self._written |= outboxes or self._every_schema()  # more may wait there
                    continue
            except Exception as error:  # the relay must outlive a bad moment of the database
                log.error("relay_failed", error_type=type(error).__name__, exc_info=error)
            # Woken: look where the wake says events were written; else, at every outbox.
            outboxes = set() if await woken(self._wake, self.poll_seconds) else None
