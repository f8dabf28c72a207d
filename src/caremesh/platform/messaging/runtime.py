"""The event machinery of one app: transport, relay and consumer workers, and their tasks.

Embedded (no CAREMESH_BROKER_URL): the in-process transport fans events out to `event_deliveries`. With a
broker: JetStream carries them; `event_deliveries` then holds only replayed dead letters, which the same
database consumer worker runs again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from caremesh.platform.messaging.bus import EventTransport, InProcessTransport, Subscriptions
from caremesh.platform.messaging.consumer import ConsumerWorker
from caremesh.platform.messaging.jetstream import JetStreamBroker, JetStreamConsumerWorker, JetStreamTransport
from caremesh.platform.messaging.relay import OutboxRelay
from caremesh.platform.settings import MessagingSettings
from caremesh.platform.uow import UnitOfWorkFactory


class BackgroundJob(Protocol):
    """Work a context runs beside the consumers (e.g. sending queued notifications)."""

    name: str

    async def run_once(self) -> int:
        """Do what is due now; return how much was done (0: nothing was due)."""
        ...

    async def run_forever(self) -> None: ...


JobFactory = Callable[[UnitOfWorkFactory], BackgroundJob]


class Workers:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        subscriptions: Subscriptions,
        settings: MessagingSettings,
        *,
        every_subscription: Subscriptions | None = None,
        jobs: Sequence[BackgroundJob] = (),
        outboxes: Collection[str] | None = None,
    ) -> None:
        """`subscriptions` are the consumers this process runs; `every_subscription` all consumers of
        the product, which the relay fans events out to, so a process serving some contexts never
        drops the events that another process's consumers wait for. `outboxes`: the schemas whose outboxes
        this process relays (None: every one)."""
        self.subscriptions = subscriptions
        self.concurrency = settings.concurrency_for(uow_factory.db.dialect)
        self.consumer = ConsumerWorker(
            uow_factory,
            subscriptions,
            max_attempts=settings.consumer_max_attempts,
            max_early_attempts=settings.consumer_max_early_attempts,
            backoff_base_seconds=settings.consumer_backoff_base_seconds,
            backoff_max_seconds=settings.consumer_backoff_max_seconds,
            poll_seconds=settings.relay_poll_seconds,
            concurrency=self.concurrency,
        )
        everyone = every_subscription or subscriptions
        self.broker: JetStreamBroker | None = None
        self.broker_consumer: JetStreamConsumerWorker | None = None
        transport: EventTransport = InProcessTransport(everyone)
        if settings.broker_url:
            self.broker = JetStreamBroker(settings)
            transport = JetStreamTransport(self.broker, everyone)
            self.broker_consumer = JetStreamConsumerWorker(
                uow_factory, self.broker, subscriptions, settings, concurrency=self.concurrency
            )
        self.relay = OutboxRelay(
            uow_factory.db,
            transport,
            uow_factory.clock,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            on_published=self.consumer.wake,
            schemas=outboxes,
        )
        self.jobs = list(jobs)
        self._tasks: list[asyncio.Task[None]] = []
        self.enabled = settings.run_workers

    def start(self) -> None:
        if self.enabled and not self._tasks:
            self._tasks = [
                asyncio.create_task(self.relay.run_forever(), name="outbox-relay"),
                asyncio.create_task(self.consumer.run_forever(), name="consumer-worker"),
                *(asyncio.create_task(job.run_forever(), name=job.name) for job in self.jobs),
                *(self.broker_consumer.tasks() if self.broker_consumer else ()),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.broker_consumer is not None:
            self.broker_consumer.forget()
        if self.broker is not None:
            await self.broker.close()

    def status(self) -> str:
        if not self.enabled:
            return "ok"
        alive = self._tasks and all(not t.done() for t in self._tasks)
        return "ok" if alive else "stopped"

    async def broker_status(self) -> str:
        """What /health/ready reports as `broker`: the workers' tasks and, when one is configured, the broker."""
        local = self.status()
        if local != "ok" or self.broker is None:
            return local
        return await self.broker.status()

    async def drain(self) -> None:
        """Relay, consume and run the jobs until nothing is due (tests and the CLI use this)."""
        while True:
            done = await self.relay.drain()
            done += await self.consumer.run_once()
            if self.broker_consumer is not None:
                done += await self.broker_consumer.run_once()
            for job in self.jobs:
                done += await job.run_once()
            if not done:
                return
