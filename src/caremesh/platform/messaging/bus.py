"""Subscriptions, and the transport port the relay publishes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.messaging.models import messaging_tables, schema_of_consumer

if TYPE_CHECKING:
    from caremesh.platform.settings import Settings
    from caremesh.platform.uow import UnitOfWork

E = TypeVar("E", bound=IntegrationEvent)
# A handler takes the event parsed from the payload, and the envelope it came in (id, type, correlation).
Handler = Callable[["UnitOfWork", E, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """`consumer` names the idempotency scope: its inbox holds the events it has handled. The consumer
    parses each payload as `event` before the handler runs; a payload it refuses fails the delivery
    (retried, then dead-lettered), unless `skip_invalid`, which records it as handled and logs it.
    `wanted`: whether this installation's settings need the subscription at all (None: always); one they
    do not need receives no events (see Subscriptions)."""

    consumer: str
    event: type[E]
    handler: Handler[E]
    skip_invalid: bool = False
    wanted: Callable[[Settings], bool] | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.event, type) and issubclass(self.event, IntegrationEvent)):
            raise TypeError(f"{self.consumer} subscribes to {self.event!r}, not an IntegrationEvent class")

    @property
    def event_type(self) -> str:
        return self.event.event_type


class Subscriptions:
    """The subscriptions of a product or a process. Given `settings`, those the settings do not want are
    switched off: no event is fanned out to them, no broker consumer pulls for them, and iteration skips
    them; `get` still finds them, so a delivery queued before the settings changed runs its handler (which
    reads the setting and does nothing) instead of dead-lettering."""

    def __init__(self, subscriptions: Iterable[Subscription] = (), *, settings: Settings | None = None) -> None:
        self._by_key: dict[tuple[str, str], Subscription] = {}
        self._off: dict[tuple[str, str], Subscription] = {}
        self._settings = settings
        for subscription in subscriptions:
            self.add(subscription)

    def add(self, subscription: Subscription) -> None:
        key = (subscription.consumer, subscription.event_type)
        if key in self._by_key or key in self._off:
            raise ValueError(f"{subscription.consumer} already handles {subscription.event_type}")
        wanted = subscription.wanted is None or self._settings is None or subscription.wanted(self._settings)
        (self._by_key if wanted else self._off)[key] = subscription

    def for_event(self, event_type: str) -> list[Subscription]:
        return [s for s in self._by_key.values() if s.event_type == event_type]

    def get(self, consumer: str, event_type: str) -> Subscription | None:
        return self._by_key.get((consumer, event_type)) or self._off.get((consumer, event_type))

    def switched_off(self) -> list[Subscription]:
        return list(self._off.values())

    def __iter__(self):
        return iter(self._by_key.values())


class EventTransport(Protocol):
    """Where the relay hands committed events. `session` is the relay's transaction, which marks
    them published; a broker adapter publishes (and awaits the broker's ack) before it commits."""

    async def publish(self, session: AsyncSession, envelopes: list[Envelope]) -> None: ...


class InProcessTransport:
    """Embedded mode: fan each event out to durable per-consumer deliveries (in each consumer's context's
    table) in the same database, in the transaction that marks it published, so a crash loses nothing."""

    def __init__(self, subscriptions: Subscriptions) -> None:
        self.subscriptions = subscriptions

    async def publish(self, session: AsyncSession, envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            for subscription in self.subscriptions.for_event(envelope.type):
                session.add(
                    messaging_tables(schema_of_consumer(subscription.consumer)).deliveries(
                        consumer=subscription.consumer,
                        event_id=envelope.id,
                        event_type=envelope.type,
                        envelope=envelope.to_dict(),
                        attempts=0,
                        next_attempt_at=envelope.occurred_at,
                    )
                )
