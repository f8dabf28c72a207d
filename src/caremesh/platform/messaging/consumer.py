"""Consumers: idempotent through the inbox, retried with backoff, dead-lettered when they keep failing."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.db import dialect_insert
from caremesh.platform.messaging.bus import Subscription, Subscriptions
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.events import EventPayloadInvalid
from caremesh.platform.messaging.models import (
    MessagingTables,
    every_messaging_set,
    messaging_tables,
    schema_of_consumer,
)
from caremesh.platform.uow import UnitOfWork, UnitOfWorkFactory
from caremesh.platform.wakeup import woken

log = structlog.get_logger("caremesh.consumer")


async def handle_once(uow: UnitOfWork, subscription: Subscription, envelope: Envelope) -> bool:
    """Run the handler unless this consumer already handled this event. The inbox row is written
    first, in the handler's transaction: a concurrent duplicate waits on it and then finds it."""
    InboxEntry = tables_of(subscription.consumer).inbox  # the consumer's context's inbox
    entry = {
        "consumer": subscription.consumer,
        "event_id": envelope.id,
        "event_type": envelope.type,
        "processed_at": uow.clock.now(),
    }
    if (await uow.session.execute(_record_in_inbox(uow.session, InboxEntry), entry)).first() is None:
        return False
    try:
        event = subscription.event.from_payload(envelope.payload)
    except EventPayloadInvalid as error:
        if not subscription.skip_invalid:
            raise
        log.warning(
            "event_payload_refused",
            consumer=subscription.consumer,
            event_type=envelope.type,
            event_id=str(envelope.id),
            problems=error.problems,
        )
        return True
    await subscription.handler(uow, event, envelope)
    return True


_INBOX_INSERTS: dict[tuple[str, type[Any]], Any] = {}


def _record_in_inbox(session: AsyncSession, InboxEntry: type[Any]) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING`, built once per inbox: a row back means this consumer had not
    handled the event; none means it had (a concurrent duplicate waits on the first one's row, then gets none)."""
    key = (session.bind.dialect.name, InboxEntry)
    if key not in _INBOX_INSERTS:
        values = {name: bindparam(name) for name in ("consumer", "event_id", "event_type", "processed_at")}
        _INBOX_INSERTS[key] = (
            dialect_insert(session)(InboxEntry).values(values).on_conflict_do_nothing().returning(InboxEntry.event_id)
        )
    return _INBOX_INSERTS[key]


class TooEarly(Exception):
    """A handler's refusal to act yet: the step this event follows has not been handled here (deliveries are
    not ordered). The consumer rolls the attempt back and retries it with the usual backoff, and dead-letters
    it only after `consumer_max_early_attempts`, so a late predecessor has time to arrive."""


def gives_up(error: Exception, attempts: int, max_attempts: int, max_early_attempts: int) -> bool:
    """Whether a failed delivery, after `attempts` attempts, goes to the dead letters."""
    limit = max(max_attempts, max_early_attempts) if isinstance(error, TooEarly) else max_attempts
    return attempts >= limit


def tables_of(consumer: str) -> MessagingTables:
    """The messaging tables of the context a consumer belongs to (its deliveries, inbox and dead letters)."""
    return messaging_tables(schema_of_consumer(consumer))


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, scaled by a factor in [0.5, 1]."""
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


class ConsumerWorker:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        subscriptions: Subscriptions,
        *,
        max_attempts: int = 5,
        backoff_base_seconds: float = 0.5,
        backoff_max_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
        concurrency: int = 1,
        max_early_attempts: int = 20,
    ) -> None:
        self.uow_factory = uow_factory
        self.subscriptions = subscriptions
        self.max_attempts = max_attempts
        self.max_early_attempts = max_early_attempts
        self.concurrency = max(1, concurrency)
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wake = asyncio.Event()

    @property
    def clock(self):  # noqa: ANN201
        return self.uow_factory.clock

    @property
    def consumers(self) -> list[str]:
        """The consumers this worker runs; deliveries to others are left for the processes that run them."""
        return sorted({s.consumer for s in self.subscriptions})

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Attempt every delivery that is due; returns how many were attempted."""
        now = self.clock.now()
        db = self.uow_factory.db
        due: list[Any] = []
        async with db.read_engine.connect() as connection:
            for EventDelivery in self._delivery_tables():
                due += (
                    await connection.execute(
                        select(
                            EventDelivery.consumer,
                            EventDelivery.event_id,
                            EventDelivery.envelope,
                            EventDelivery.next_attempt_at,
                        )
                        .where(EventDelivery.next_attempt_at <= now, EventDelivery.consumer.in_(self.consumers))
                        .order_by(EventDelivery.next_attempt_at)
                        .limit(self.batch_size)
                    )
                ).all()
        due = sorted(due, key=lambda row: row.next_attempt_at)[: self.batch_size]
        if self.concurrency == 1 or len(due) < 2:
            for consumer, event_id, envelope, _due_at in due:
                await self.attempt(consumer, event_id, Envelope.from_dict(envelope))
            return len(due)
        # Several attempts in flight, each in its own transaction; the claim below keeps them apart.
        slots = asyncio.Semaphore(self.concurrency)

        async def bounded(consumer: str, event_id: uuid.UUID, envelope: dict) -> None:
            async with slots:
                await self.attempt(consumer, event_id, Envelope.from_dict(envelope))

        async with asyncio.TaskGroup() as group:
            for consumer, event_id, envelope, _due_at in due:
                group.create_task(bounded(consumer, event_id, envelope))
        return len(due)

    def _delivery_tables(self) -> list[type[Any]]:
        """The deliveries tables of this worker's consumers' contexts (on SQLite the one table)."""
        if self.uow_factory.db.dialect == "sqlite":
            return [sets.deliveries for sets in every_messaging_set("sqlite")]
        return sorted({tables_of(consumer).deliveries for consumer in self.consumers}, key=lambda t: t.__name__)

    async def attempt(self, consumer: str, event_id: uuid.UUID, envelope: Envelope) -> None:
        subscription = self.subscriptions.get(consumer, envelope.type)
        EventDelivery = tables_of(consumer).deliveries
        try:
            async with self.uow_factory.begin(correlation_id=envelope.correlation_id, causation_id=envelope.id) as uow:
                claimed = await uow.session.scalar(
                    select(EventDelivery)
                    .where(EventDelivery.consumer == consumer, EventDelivery.event_id == event_id)
                    .with_for_update(skip_locked=True)
                )
                if claimed is None or claimed.next_attempt_at > self.clock.now():
                    return  # another worker has it, or it was rescheduled meanwhile
                if subscription is None:
                    raise LookupError(f"no handler for {envelope.type} in consumer {consumer}")
                handled = await handle_once(uow, subscription, envelope)
                await uow.session.delete(claimed)
            log.info(
                "event_consumed",
                consumer=consumer,
                event_type=envelope.type,
                event_id=str(event_id),
                duplicate=not handled,
            )
        except Exception as error:
            await self._record_failure(consumer, event_id, error)

    async def _record_failure(self, consumer: str, event_id: uuid.UUID, error: Exception) -> None:
        now = self.clock.now()
        message = f"{type(error).__name__}: {error}"[:2000]
        db = self.uow_factory.db
        EventDelivery, DeadLetter = tables_of(consumer).deliveries, tables_of(consumer).dead_letters
        async with db.sessionmaker() as session, session.begin():
            delivery = await session.get(EventDelivery, (consumer, event_id), with_for_update=True)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.last_error = message
            if gives_up(error, delivery.attempts, self.max_attempts, self.max_early_attempts):
                session.add(
                    DeadLetter(
                        consumer=consumer,
                        event_id=event_id,
                        event_type=delivery.event_type,
                        envelope=delivery.envelope,
                        attempts=delivery.attempts,
                        error=message,
                        failed_at=now,
                    )
                )
                await session.delete(delivery)
                log.error(
                    "event_dead_lettered",
                    consumer=consumer,
                    event_type=delivery.event_type,
                    event_id=str(event_id),
                    attempts=delivery.attempts,
                    error_type=type(error).__name__,
                )
            else:
                delay = backoff_seconds(delivery.attempts, self.backoff_base_seconds, self.backoff_max_seconds)
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                (log.info if isinstance(error, TooEarly) else log.warning)(
                    "event_retry_scheduled",
                    consumer=consumer,
                    event_type=delivery.event_type,
                    event_id=str(event_id),
                    attempts=delivery.attempts,
                    retry_in=round(delay, 3),
                    error_type=type(error).__name__,
                )

    async def run_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                if await self.run_once() >= self.batch_size:
                    continue
            except Exception as error:
                log.error("consumer_worker_failed", error_type=type(error).__name__, exc_info=error)
            await woken(self._wake, self.poll_seconds)


async def list_dead_letters(session: AsyncSession, *, include_replayed: bool = False) -> list[Any]:
    """Dead letters of every consumer, every context's, oldest first."""
    found: list[Any] = []
    for tables in every_messaging_set(session.bind.dialect.name):
        query = select(tables.dead_letters)
        if not include_replayed:
            query = query.where(tables.dead_letters.replayed_at.is_(None))
        found += (await session.scalars(query)).all()
    return sorted(found, key=lambda dead: dead.failed_at)


async def replay_dead_letter(session: AsyncSession, dead_letter_id: uuid.UUID, now: datetime) -> bool:
    """Queue a dead letter for delivery again, with fresh attempts. False if unknown or already replayed."""
    for tables in every_messaging_set(session.bind.dialect.name):
        DeadLetter, EventDelivery = tables.dead_letters, tables.deliveries  # one context's
        claimed = await session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == dead_letter_id, DeadLetter.replayed_at.is_(None))
            .values(replayed_at=now)
            .returning(DeadLetter.consumer, DeadLetter.event_id, DeadLetter.event_type, DeadLetter.envelope)
        )
        row = claimed.first()
        if row is None:
            continue
        consumer, event_id, event_type, envelope = row
        if await session.get(EventDelivery, (consumer, event_id)) is None:
            session.add(
                EventDelivery(
                    consumer=consumer,
                    event_id=event_id,
                    event_type=event_type,
                    envelope=envelope,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        return True
    return False
