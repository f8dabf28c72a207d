"""The distributed mode's transport: NATS JetStream.

One stream per namespace (`CAREMESH`), subjects `<namespace>.<event type>`, file storage, a duplicate
window of at least ten minutes. The relay publishes each committed outbox event with `Nats-Msg-Id` = the
event id and marks it published only after the broker's ack. Each subscription (consumer name and event
type) is a durable pull consumer shared by every replica that runs it; a message is acked after the inbox
row and the effect committed together, nak'ed with a growing delay when the handler fails, and dead-lettered
into `dead_letters` (then acked) after `consumer_max_attempts` deliveries. Each replica handles up to
`consumer_concurrency` messages of one durable consumer at once, each acked after its own commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NoStreamResponseError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.messaging.bus import Subscription, Subscriptions
from caremesh.platform.messaging.consumer import TooEarly, backoff_seconds, gives_up, handle_once
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import messaging_tables, schema_of_consumer
from caremesh.platform.settings import MessagingSettings
from caremesh.platform.uow import UnitOfWorkFactory

log = structlog.get_logger("caremesh.jetstream")

MSG_ID = "Nats-Msg-Id"
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_-]")


class JetStreamBroker:
    """One connection to the broker (opened on first use, reconnecting on its own), the namespace's stream and
    the durable consumers of the subscriptions it was told about."""

    def __init__(self, settings: MessagingSettings, *, name: str = "caremesh") -> None:
        if not settings.broker_url:
            raise ValueError("CAREMESH_BROKER_URL is not set")
        self.url = settings.broker_url
        self.namespace = settings.broker_namespace
        self.stream = self.namespace.upper()
        self.settings = settings
        self.name = name
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()
        self._consumers: set[str] = set()
        self._removed: set[str] = set()

    @property
    def max_ack_pending(self) -> int:
        """Room for every replica's in-flight messages and the nak'ed ones waiting out their delay."""
        return max(self.settings.broker_max_ack_pending, 4 * self.settings.concurrency_for("postgresql"))

    def subject(self, event_type: str) -> str:
        return f"{self.namespace}.{event_type}"

    @staticmethod
    def durable(subscription: Subscription) -> str:
        """The durable consumer of one subscription (NATS names allow no dots)."""
        return _NOT_A_NAME.sub("-", f"{subscription.consumer}--{subscription.event_type}")

    async def jetstream(self) -> JetStreamContext:
        if self._js is not None:
            return self._js
        async with self._lock:
            if self._js is None:
                client = Client()
                try:
                    # Once connected it reconnects forever; the first connection is bounded, so a caller
                    # (the relay, /health/ready) gets an error to report instead of waiting on a dead broker.
                    await asyncio.wait_for(
                        client.connect(
                            self.url,
                            name=self.name,
                            connect_timeout=2,
                            max_reconnect_attempts=-1,
                            reconnect_time_wait=0.5,
                            error_cb=_log_error,
                        ),
                        timeout=3,
                    )
                    js = client.jetstream(timeout=5)
                    await self._ensure_stream(js)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await client.close()
                    raise
                self._client, self._js = client, js
        assert self._js is not None
        return self._js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.namespace}.>"],
            storage=StorageType.FILE,
            duplicate_window=self.settings.broker_duplicate_window_seconds,
            max_age=self.settings.broker_max_age_days * 86400,
        )
        try:
            await js.add_stream(config)
        except BadRequestError:  # it exists with another configuration (e.g. an older window)
            await js.update_stream(config)

    async def ensure_consumers(self, subscriptions: Subscriptions) -> None:
        """Create the durable consumer of every subscription not yet known here. New consumers start with the
        next event, as the in-process fan-out does; creating an existing one again changes nothing."""
        js = await self.jetstream()
        for subscription in subscriptions:
            durable = self.durable(subscription)
            if durable in self._consumers:
                continue
            config = ConsumerConfig(
                durable_name=durable,
                filter_subject=self.subject(subscription.event_type),
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                ack_wait=self.settings.broker_ack_wait_seconds,
                max_deliver=-1,  # we count attempts and dead-letter ourselves, so nothing is dropped unseen
                max_ack_pending=self.max_ack_pending,
            )
            try:
                await js.add_consumer(self.stream, config)
            except BadRequestError:
                await js.consumer_info(self.stream, durable)  # exists already (created by another process)
            self._consumers.add(durable)
        for subscription in subscriptions.switched_off():
            # Switched off by the settings: its backlog would only grow; switching it on again starts afresh.
            durable = self.durable(subscription)
            if durable not in self._removed:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_consumer(self.stream, durable)
                self._removed.add(durable)

    async def restore_stream(self) -> None:
        """The stream is gone (the broker came back with an empty store): create it again, and the durable
        consumers with it on their next `ensure_consumers`. Pull subscriptions bound by name keep working."""
        js = await self.jetstream()
        self._consumers.clear()
        await self._ensure_stream(js)
        log.warning("broker_stream_restored", stream=self.stream)

    async def status(self) -> str:
        """`ok` when the broker answers a round trip, else why not."""
        try:
            js = await self.jetstream()
            await asyncio.wait_for(js.stream_info(self.stream), timeout=2)
        except Exception as error:
            return f"unavailable: {type(error).__name__}"
        return "ok"

    async def delete_stream(self) -> None:
        """Tests: forget this namespace's stream and its consumers."""
        js = await self.jetstream()
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(self.stream)
        self._consumers.clear()

    async def close(self) -> None:
        client, self._client, self._js = self._client, None, None
        self._consumers.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


async def _log_error(error: Exception) -> None:
    log.warning("broker_connection_error", error_type=type(error).__name__, error=str(error))


class JetStreamTransport:
    """The relay's port to the broker: publish every envelope and await JetStream's acks before the relay's
    transaction marks them published. A publish the broker does not ack raises, and nothing is marked."""

    def __init__(self, broker: JetStreamBroker, every_subscription: Subscriptions) -> None:
        self.broker = broker
        self.every_subscription = every_subscription

    async def publish(self, session: AsyncSession, envelopes: list[Envelope]) -> None:
        js = await self.broker.jetstream()
        await self.broker.ensure_consumers(self.every_subscription)  # no event goes out before its consumers
        try:
            acks = await self._publish(js, envelopes)
        except NoStreamResponseError:  # no stream answers: the broker lost its store; recreate, publish again
            await self.broker.restore_stream()
            await self.broker.ensure_consumers(self.every_subscription)
            acks = await self._publish(js, envelopes)
        duplicates = sum(1 for ack in acks if ack.duplicate)
        if duplicates:
            log.info("broker_dropped_duplicates", count=duplicates)

    async def _publish(self, js: JetStreamContext, envelopes: list[Envelope]) -> list[Any]:
        return await asyncio.gather(
            *(
                js.publish(
                    self.broker.subject(envelope.type),
                    json.dumps(envelope.to_dict()).encode(),
                    headers={MSG_ID: str(envelope.id)},
                    stream=self.broker.stream,
                )
                for envelope in envelopes
            )
        )


class JetStreamConsumerWorker:
    """Pulls the messages of this process's subscriptions; every replica pulls from the same durable consumers,
    so each message goes to one of them."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        broker: JetStreamBroker,
        subscriptions: Subscriptions,
        settings: MessagingSettings,
        *,
        batch_size: int = 50,
        concurrency: int = 1,
    ) -> None:
        self.uow_factory = uow_factory
        self.broker = broker
        self.subscriptions = subscriptions
        self.max_attempts = settings.consumer_max_attempts
        self.max_early_attempts = settings.consumer_max_early_attempts
        self.concurrency = max(1, concurrency)
        self.backoff_base_seconds = settings.consumer_backoff_base_seconds
        self.backoff_max_seconds = settings.consumer_backoff_max_seconds
        self.poll_seconds = max(settings.relay_poll_seconds, 1.0)
        self.batch_size = batch_size
        self._pulls: dict[str, Any] = {}

    async def _pull(self, subscription: Subscription) -> Any:
        durable = self.broker.durable(subscription)
        if durable not in self._pulls:
            await self.broker.ensure_consumers(Subscriptions([subscription]))
            js = await self.broker.jetstream()
            self._pulls[durable] = await js.pull_subscribe_bind(durable=durable, stream=self.broker.stream)
        return self._pulls[durable]

    async def run_once(self, timeout: float = 0.1) -> int:
        """Handle what every subscription has waiting now; returns how many messages were handled."""
        counts = await asyncio.gather(*(self._fetch(s, timeout) for s in self.subscriptions))
        return sum(counts)

    async def _fetch(self, subscription: Subscription, timeout: float) -> int:
        messages = await self._take(subscription, self.batch_size, timeout)
        if self.concurrency == 1:
            for message in messages:
                await self.handle(subscription, message)
            return len(messages)
        slots = asyncio.Semaphore(self.concurrency)

        async def bounded(message: Msg) -> None:
            async with slots:
                await self.handle(subscription, message)

        async with asyncio.TaskGroup() as group:
            for message in messages:
                group.create_task(bounded(message))
        return len(messages)

    async def _take(self, subscription: Subscription, most: int, timeout: float) -> list[Msg]:
        """Up to `most` messages: what is waiting, or the first to arrive within `timeout`; [] if none."""
        pull = await self._pull(subscription)
        try:
            return list(await pull.fetch(most, timeout=timeout))
        except TimeoutError:  # nothing arrived in time (nats-py raises its own subclass or asyncio's)
            return []

    async def handle(self, subscription: Subscription, message: Msg) -> None:
        try:
            envelope = Envelope.from_dict(json.loads(message.data))
        except (ValueError, KeyError, TypeError) as error:
            log.error("broker_message_unreadable", consumer=subscription.consumer, error_type=type(error).__name__)
            await message.term()
            return
        attempt = message.metadata.num_delivered
        try:
            async with self.uow_factory.begin(correlation_id=envelope.correlation_id, causation_id=envelope.id) as uow:
                handled = await handle_once(uow, subscription, envelope)
        except Exception as error:
            await self._failed(subscription, envelope, message, attempt, error)
            return
        await message.ack()  # after the commit: a lost ack means a redelivery, which the inbox absorbs
        log.info(
            "event_consumed",
            consumer=subscription.consumer,
            event_type=envelope.type,
            event_id=str(envelope.id),
            duplicate=not handled,
        )

    async def _failed(
        self, subscription: Subscription, envelope: Envelope, message: Msg, attempt: int, error: Exception
    ) -> None:
        text = f"{type(error).__name__}: {error}"[:2000]
        fields = {"consumer": subscription.consumer, "event_type": envelope.type, "event_id": str(envelope.id)}
        if not gives_up(error, attempt, self.max_attempts, self.max_early_attempts):
            delay = backoff_seconds(attempt, self.backoff_base_seconds, self.backoff_max_seconds)
            await message.nak(delay=delay)
            (log.info if isinstance(error, TooEarly) else log.warning)(
                "event_retry_scheduled",
                **fields,
                attempts=attempt,
                retry_in=round(delay, 3),
                error_type=type(error).__name__,
            )
            return
        DeadLetter = messaging_tables(schema_of_consumer(subscription.consumer)).dead_letters
        async with self.uow_factory.db.sessionmaker() as session, session.begin():
            known = await session.scalar(
                select(DeadLetter.id).where(
                    DeadLetter.consumer == subscription.consumer,
                    DeadLetter.event_id == envelope.id,
                    DeadLetter.replayed_at.is_(None),
                )
            )
            if known is None:  # else an earlier ack was lost after the dead letter was written
                session.add(
                    DeadLetter(
                        consumer=subscription.consumer,
                        event_id=envelope.id,
                        event_type=envelope.type,
                        envelope=envelope.to_dict(),
                        attempts=attempt,
                        error=text,
                        failed_at=self.uow_factory.clock.now(),
                    )
                )
        await message.ack()
        log.error("event_dead_lettered", **fields, attempts=attempt, error_type=type(error).__name__)

    async def run_subscription(self, subscription: Subscription) -> None:
        """Keep up to `concurrency` messages of this subscription in flight: pull as many as there are free
        slots, start each at once, pull again as soon as one finishes. Each is acked after its own commit."""
        in_flight: set[asyncio.Task[None]] = set()
        backlog: list[Msg] = []  # a pull may hand over more than asked (what an earlier one left behind)
        try:
            while True:
                free = self.concurrency - len(in_flight)
                if free == 0:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if not backlog:
                    try:
                        backlog = await self._take(subscription, free, self.poll_seconds)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:  # the broker had a bad moment: try again shortly
                        log.error(
                            "broker_consumer_failed", consumer=subscription.consumer, error_type=type(error).__name__
                        )
                        await asyncio.sleep(self.poll_seconds)
                        continue
                messages, backlog = backlog[:free], backlog[free:]
                for message in messages:
                    task = asyncio.create_task(self._handle_logged(subscription, message))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        finally:
            for task in in_flight:  # unacked: the broker delivers them again after ack_wait
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _handle_logged(self, subscription: Subscription, message: Msg) -> None:
        try:
            await self.handle(subscription, message)
        except Exception as error:  # the database had a bad moment while recording a failure: redelivered later
            log.error("broker_consumer_failed", consumer=subscription.consumer, error_type=type(error).__name__)

    def forget(self) -> None:
        """Drop the pull subscriptions (their connection is being closed); the next pull binds anew."""
        self._pulls.clear()

    def tasks(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self.run_subscription(s), name=f"jetstream:{self.broker.durable(s)}")
            for s in self.subscriptions
        ]
