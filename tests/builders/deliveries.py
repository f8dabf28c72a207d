"""Deliveries handed to the real consumers in an order the test chooses, duplicates included: what several
deliveries in flight at once (or a broker's redelivery) may do to events that happened one after the other.

The embedded transport queues each event for each consumer in `event_deliveries`; these helpers read that queue
and run the app's own consumer worker on one row at a time (`ConsumerWorker.attempt`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from caremesh.platform.messaging.bus import Subscription, Subscriptions
from caremesh.platform.messaging.consumer import tables_of
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import every_messaging_set


@dataclass(frozen=True)
class Waiting:
    """One event queued for one consumer."""

    consumer: str
    event_id: uuid.UUID
    event_type: str
    envelope: Envelope


async def relay(env: Any, *, switched_on: Iterable[Subscription] = ()) -> None:
    """Publish what was committed: the transport queues it for every consumer, nobody handles it yet.
    `switched_on`: subscriptions the app's settings switch off that get the events too, as those an installation
    queued before its settings changed."""
    transport = env.app.state.workers.relay.transport
    wanted = transport.subscriptions
    if switched_on:
        every = {(s.consumer, s.event_type): s for s in [*wanted, *switched_on]}
        transport.subscriptions = Subscriptions(every.values())
    try:
        await env.app.state.workers.relay.drain()
    finally:
        transport.subscriptions = wanted


async def waiting(env: Any, consumer: str | None = None, event_type: str | None = None) -> list[Waiting]:
    """Queued deliveries (due or put off), oldest event first."""
    rows: list[Any] = []
    async with env.db.read_sessionmaker() as session:
        for tables in every_messaging_set(env.db.dialect):  # each context's queue on PostgreSQL, one on SQLite
            EventDelivery = tables.deliveries
            query = select(EventDelivery)
            if consumer is not None:
                query = query.where(EventDelivery.consumer == consumer)
            if event_type is not None:
                query = query.where(EventDelivery.event_type == event_type)
            rows += (await session.scalars(query)).all()
    rows.sort(key=lambda r: (r.next_attempt_at, r.event_id))
    return [Waiting(r.consumer, r.event_id, r.event_type, Envelope.from_dict(r.envelope)) for r in rows]


async def one(env: Any, consumer: str, event_type: str) -> Waiting:
    found = await waiting(env, consumer, event_type)
    assert len(found) == 1, f"{len(found)} deliveries of {event_type} to {consumer}"
    return found[0]


async def hand(env: Any, delivery: Waiting) -> None:
    """Attempt this delivery now, whenever it was due (one refused as too early was put off), as the worker
    would; a failure is recorded by the worker (retry later, or dead letter)."""
    now = env.clock.now()
    EventDelivery = tables_of(delivery.consumer).deliveries
    async with env.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(EventDelivery)
            .where(EventDelivery.consumer == delivery.consumer, EventDelivery.event_id == delivery.event_id)
            .values(next_attempt_at=now)
        )
    await env.app.state.workers.consumer.attempt(delivery.consumer, delivery.event_id, delivery.envelope)


async def redeliver(env: Any, delivery: Waiting) -> None:
    """The same event to the same consumer again (a lost ack, another replica): queued anew, then attempted."""
    EventDelivery = tables_of(delivery.consumer).deliveries
    async with env.db.sessionmaker() as session, session.begin():
        if await session.get(EventDelivery, (delivery.consumer, delivery.event_id)) is None:
            session.add(
                EventDelivery(
                    consumer=delivery.consumer,
                    event_id=delivery.event_id,
                    event_type=delivery.event_type,
                    envelope=delivery.envelope.to_dict(),
                    attempts=0,
                    next_attempt_at=env.clock.now(),
                )
            )
    await hand(env, delivery)


async def hand_in_order(env: Any, deliveries: Iterable[Waiting]) -> None:
    """Each in turn; one seen before is delivered again (a duplicate)."""
    for delivery in deliveries:
        await redeliver(env, delivery)


async def run_except(env: Any, *held: tuple[str, str]) -> None:
    """Relay and handle every queued delivery but those of the held (consumer, event type) pairs, until nothing
    else moves. Deliveries put off as too early are tried again each round."""
    for _ in range(50):
        queue = [d for d in await waiting(env) if (d.consumer, d.event_type) not in held]
        before = {(d.consumer, d.event_id) for d in queue}
        for delivery in queue:
            await hand(env, delivery)
        await relay(env)
        after = {(d.consumer, d.event_id) for d in await waiting(env) if (d.consumer, d.event_type) not in held}
        if not before and not after:
            return
        if after == before:  # nothing handled, nothing new: only refusals left
            return
    raise AssertionError("deliveries kept coming")


async def settle(env: Any) -> None:
    """Handle everything queued, the put-off ones too, until the queue is empty."""
    await relay(env)
    await run_except(env)
    assert await waiting(env) == [], "some deliveries never went through"
