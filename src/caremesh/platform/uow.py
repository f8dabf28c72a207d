"""The unit of work: one session, one transaction, owned by the entrypoint (request or consumer)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.clock import Clock
from caremesh.platform.db import PLATFORM_SCHEMA, Database
from caremesh.platform.errors import DomainError
from caremesh.platform.messaging.envelope import Envelope, jsonable
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.messaging.models import messaging_tables, schema_of_event
from caremesh.platform.security import Principal
from caremesh.platform.settings import Settings

BeforeCommit = Callable[["UnitOfWork"], Awaitable[None]]


class UnitOfWork:
    """What a use case works with: the session, the clock, who acts, and the outbox.

    Services `flush()`, never `commit()`; the entrypoint that opened the unit commits it.
    """

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        *,
        actor: Principal | None = None,
        request_id: str | None = None,
        ip: str | None = None,
        correlation_id: str | None = None,
        causation_id: uuid.UUID | None = None,
        reader: Callable[[], AsyncSession] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.session = session
        self.settings = settings or Settings()
        self._reader = reader
        self.clock = clock
        self.actor = actor
        self.request_id = request_id
        self.ip = ip
        self.correlation_id = correlation_id or request_id or uuid.uuid4().hex
        self.causation_id = causation_id
        self.published: list[Envelope] = []
        self.outboxes: set[str] = set()  # the schemas whose outboxes this unit wrote to
        self.state: dict[str, Any] = {}
        self._before_commit: dict[str, BeforeCommit] = {}
        self._after_commit: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self.clock.now()

    def read_session(self) -> AsyncSession:
        """A separate read-only session, outside this unit's transaction (`async with`). For slow work
        such as password hashing that must not run while the transaction holds its locks."""
        if self._reader is None:
            raise RuntimeError("this unit of work has no read-only session")
        return self._reader()

    def publish(self, event: IntegrationEvent) -> Envelope:
        """Append an integration event to the outbox, inside this transaction."""
        if not isinstance(event, IntegrationEvent):
            raise TypeError(f"publish takes an IntegrationEvent, not {type(event).__name__}")
        # Into the publishing context's outbox: the context whose module declares the event class.
        outbox = schema_of_event(type(event))
        return self.publish_payload(event.event_type, event.to_payload(), version=event.event_version, outbox=outbox)

    def publish_payload(
        self, event_type: str, payload: dict[str, Any], *, version: int = 1, outbox: str = PLATFORM_SCHEMA
    ) -> Envelope:
        """Append an event given as its wire payload to `outbox` (a context's, by default the platform's).
        Contexts publish typed events (`publish`); this is for the platform and for tests that play another
        (or a misbehaving) publisher."""
        envelope = Envelope(
            type=event_type,
            version=version,
            payload=jsonable(payload),
            occurred_at=self.clock.now(),
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )
        self.session.add(
            messaging_tables(outbox).outbox(
                id=envelope.id,
                type=envelope.type,
                version=envelope.version,
                occurred_at=envelope.occurred_at,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.causation_id,
                payload=envelope.payload,
            )
        )
        self.published.append(envelope)
        self.outboxes.add(outbox)
        return envelope

    def before_commit(self, key: str, hook: BeforeCommit) -> None:
        """Run `hook` once, just before this unit commits (audit chains its entries this way)."""
        self._before_commit.setdefault(key, hook)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this unit has committed (metrics count only what really happened)."""
        self._after_commit.append(callback)

    async def commit(self) -> None:
        for hook in list(self._before_commit.values()):
            await hook(self)
        self._before_commit.clear()
        await self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        self._before_commit.clear()
        self._after_commit.clear()
        self.published.clear()
        self.outboxes.clear()
        await self.session.rollback()


class UnitOfWorkFactory:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        on_events_committed: Callable[[Collection[str]], None] | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or Settings()
        self.on_events_committed = on_events_committed or (lambda outboxes: None)

    @asynccontextmanager
    async def begin(self, **meta: Any) -> AsyncIterator[UnitOfWork]:
        """Commit when the block ends normally, roll back when it raises.

        A DomainError marked `keeps_side_effects` commits what was written before it is re-raised.
        """
        async with self.db.sessionmaker() as session:
            uow = UnitOfWork(session, self.clock, reader=self.db.read_sessionmaker, settings=self.settings, **meta)
            try:
                yield uow
            except DomainError as error:
                if error.keeps_side_effects:
                    await uow.commit()
                    self._notify(uow)
                else:
                    await uow.rollback()
                raise
            except BaseException:
                await uow.rollback()
                raise
            else:
                await uow.commit()
                self._notify(uow)

    def _notify(self, uow: UnitOfWork) -> None:
        if uow.published:
            self.on_events_committed(uow.outboxes)
