"""Several deliveries of one consumer in flight at once (CAREMESH_CONSUMER_CONCURRENCY), in the embedded mode and
on JetStream: each attempt in its own transaction, claims exclusive, failures retried and dead-lettered as with
one at a time, and the invariants that matter (one invoice per visit) hold under it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from caremesh.audit import contract as audit
from caremesh.platform.messaging.bus import Subscription, Subscriptions
from caremesh.platform.messaging.consumer import ConsumerWorker, TooEarly, gives_up
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.runtime import Workers
from caremesh.platform.settings import MessagingSettings
from tests.builders.billing import completed_visit, invoice_of
from tests.builders.events import Happened
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.harness import running_env, settings_for_tests
from tests.platform.test_transport_contract import NATS_URL, transport  # noqa: F401 (the fixture)

VISITS = 12


class Counting(ConsumerWorker):
    """The app's consumer worker, counting the attempts in flight at once."""

    in_flight = peak = 0

    async def attempt(self, consumer: str, event_id: uuid.UUID, envelope: Envelope) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0)  # let the others start before this one takes the database
            await super().attempt(consumer, event_id, envelope)
        finally:
            self.in_flight -= 1


def _worker(env: Any, subscriptions: Subscriptions, concurrency: int) -> Counting:
    settings = env.app.state.settings.messaging
    return Counting(
        env.app.state.uow_factory,
        subscriptions,
        max_attempts=settings.consumer_max_attempts,
        max_early_attempts=settings.consumer_max_early_attempts,
        backoff_base_seconds=settings.consumer_backoff_base_seconds,
        concurrency=concurrency,
    )


async def _visits(env: Any, count: int) -> list[str]:
    """`count` visits completed, their events committed and relayed, none consumed yet."""
    patient = await make_patient(env)
    ids = []
    for _ in range(count):
        practitioner = await make_practitioner(env)
        ids.append((await completed_visit(env, patient=patient, practitioner=practitioner))["id"])
    await env.app.state.workers.relay.drain()
    return ids


async def _one_invoice_each(env: Any, appointment_ids: list[str]) -> None:
    assert await env.count("invoices") == len(appointment_ids)
    assert await env.count("outbox_events", "type = 'invoice.issued'") == len(appointment_ids)
    for appointment_id in appointment_ids:
        await invoice_of(env, appointment_id)  # exactly one


# --- settings -------------------------------------------------------------------------------------------


def test_concurrency_defaults_per_database_and_follows_the_environment(monkeypatch):
    monkeypatch.delenv("CAREMESH_CONSUMER_CONCURRENCY", raising=False)
    settings = MessagingSettings()
    assert (settings.concurrency_for("sqlite"), settings.concurrency_for("postgresql")) == (4, 4)
    monkeypatch.setenv("CAREMESH_CONSUMER_CONCURRENCY", "3")
    settings = MessagingSettings()
    assert (settings.concurrency_for("sqlite"), settings.concurrency_for("postgresql")) == (3, 3)
    for bad in ("0", "65", "many"):
        monkeypatch.setenv("CAREMESH_CONSUMER_CONCURRENCY", bad)
        with pytest.raises(ValidationError):
            MessagingSettings()


def test_too_early_has_its_own_budget_and_other_failures_keep_theirs():
    assert not gives_up(TooEarly("wait"), 5, max_attempts=5, max_early_attempts=20)
    assert gives_up(TooEarly("wait"), 20, max_attempts=5, max_early_attempts=20)
    assert gives_up(RuntimeError("broken"), 5, max_attempts=5, max_early_attempts=20)
    assert not gives_up(RuntimeError("broken"), 4, max_attempts=5, max_early_attempts=20)
    assert gives_up(TooEarly("wait"), 5, max_attempts=5, max_early_attempts=2)  # never fewer than the others


# --- embedded ---------------------------------------------------------------------------------------------


async def test_a_burst_of_completed_visits_is_invoiced_once_each_by_two_workers_with_deliveries_in_flight(env):
    """Two processes' workers, four attempts in flight each, over one queue: every delivery is claimed by one
    attempt (SKIP LOCKED on PostgreSQL, the write lock on SQLite), and each visit gets exactly one invoice."""
    appointments = await _visits(env, VISITS)
    subscriptions = env.app.state.workers.subscriptions
    first, second = _worker(env, subscriptions, 4), _worker(env, subscriptions, 4)
    queued = await env.count("event_deliveries")

    await asyncio.gather(first.run_once(), second.run_once())

    assert max(first.peak, second.peak) > 1
    assert await env.count("event_deliveries") == 0
    assert await env.count("inbox") == queued  # each delivery handled once
    assert await env.count("dead_letters") == 0
    await _one_invoice_each(env, appointments)


async def test_one_at_a_time_keeps_one_delivery_in_flight(env):
    appointments = await _visits(env, 3)
    worker = _worker(env, env.app.state.workers.subscriptions, 1)
    assert await worker.run_once() > 3
    assert worker.peak == 1
    await _one_invoice_each(env, appointments)


async def test_failures_in_flight_together_back_off_and_dead_letter_as_one_at_a_time(make_env):
    seen: list[int] = []

    async def odd_ones_fail(uow, event: Happened, envelope: Envelope) -> None:
        seen.append(event.n)
        audit.record(uow, "test.consumed", "test", event.n)
        await uow.session.flush()  # the effect is written, then rolled back with the failure
        if event.n % 2:
            raise RuntimeError(f"{event.n} failed on purpose")

    subscription = Subscription("tests.parallel", Happened, odd_ones_fail)
    async with make_env(subscriptions=[subscription]) as env:
        async with env.uow() as uow:
            for n in range(10):
                uow.publish(Happened(n=n))
        await env.app.state.workers.relay.drain()
        worker = _worker(env, Subscriptions([subscription]), 4)
        max_attempts = worker.max_attempts
        for attempt in range(1, max_attempts + 1):
            assert await worker.run_once() == (10 if attempt == 1 else 5)
            assert await worker.run_once() == 0  # the failed ones are not due yet: they back off
            env.clock.advance(minutes=10)
        assert worker.peak > 1
        assert sorted(n for n in seen if n % 2 == 0) == [0, 2, 4, 6, 8]  # once each
        assert sorted(n for n in seen if n % 2) == sorted([1, 3, 5, 7, 9] * max_attempts)
        assert await env.count("audit_events", "action = 'test.consumed'") == 5
        assert await env.count("dead_letters", f"attempts = {max_attempts}") == 5
        assert await env.count("event_deliveries") == 0


async def test_drain_handles_everything_with_deliveries_in_flight(migrated_database, tmp_path):
    settings = settings_for_tests(await migrated_database.fresh(tmp_path), tmp_path)
    settings.messaging = settings.messaging.model_copy(update={"consumer_concurrency": 4})
    async with running_env(settings) as env:
        assert env.app.state.workers.consumer.concurrency == 4
        appointments = await _visits(env, 6)
        await env.drain()
        assert await env.count("event_deliveries") == 0
        await _one_invoice_each(env, appointments)


# --- JetStream -------------------------------------------------------------------------------------------


def _broker_settings(env: Any, **updates: Any) -> MessagingSettings:
    return env.app.state.settings.messaging.model_copy(
        update={
            "broker_url": NATS_URL,
            "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}",
            "consumer_concurrency": 4,
            "consumer_backoff_base_seconds": 0.05,
            "consumer_backoff_max_seconds": 0.2,
            **updates,
        }
    )


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_jetstream_replicas_keep_several_messages_in_flight_and_handle_each_once(env, transport):  # noqa: F811
    """Two replicas' pull loops (as `caremesh serve` runs them), four messages in flight each: every message is
    handled once, acked after its commit, and the durable consumer allows what they hold."""
    seen: list[uuid.UUID] = []
    in_flight, peak = [0, 0], [0, 0]  # per replica

    async def slow(uow, event: Happened, envelope: Envelope) -> None:
        seen.append(envelope.id)
        audit.record(uow, "test.consumed", "test", event.n)

    subscription = Subscription("tests.parallel", Happened, slow)
    settings = _broker_settings(env, run_workers=True)
    replicas = [Workers(env.app.state.uow_factory, Subscriptions([subscription]), settings) for _ in range(2)]
    for index, workers in enumerate(replicas):
        consumer = workers.broker_consumer
        handle = consumer.handle

        async def counted(subscription: Subscription, message: Any, handle: Any = handle, i: int = index) -> None:
            in_flight[i] += 1
            peak[i] = max(peak[i], in_flight[i])
            try:
                await asyncio.sleep(0.01)  # the next messages are pulled and started meanwhile
                await handle(subscription, message)
            finally:
                in_flight[i] -= 1

        consumer.handle = counted
    broker = replicas[0].broker
    try:
        await broker.ensure_consumers(Subscriptions([subscription]))
        for workers in replicas:
            workers.start()
        async with env.uow() as uow:
            for n in range(40):
                uow.publish(Happened(n=n))
        await replicas[0].relay.drain()
        for _ in range(300):
            if await env.count("audit_events", "action = 'test.consumed'") == 40:
                break
            await asyncio.sleep(0.05)
        assert await env.count("audit_events", "action = 'test.consumed'") == 40
        assert len(seen) == len(set(seen)) == 40
        assert max(peak) > 1
        js = await broker.jetstream()
        info = await js.consumer_info(broker.stream, broker.durable(subscription))
        assert info.config.max_ack_pending == broker.max_ack_pending >= 2 * 4
        for _ in range(100):  # acks travel after the commits
            if (await js.consumer_info(broker.stream, broker.durable(subscription))).num_ack_pending == 0:
                break
            await asyncio.sleep(0.05)
        assert (await js.consumer_info(broker.stream, broker.durable(subscription))).num_ack_pending == 0
    finally:
        for workers in replicas:
            await workers.stop()
        await broker.delete_stream()
        await broker.close()


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_jetstream_failures_in_flight_together_retry_then_dead_letter(env, transport):  # noqa: F811
    attempts: dict[int, int] = {}

    async def odd_ones_fail(uow, event: Happened, envelope: Envelope) -> None:
        attempts[event.n] = attempts.get(event.n, 0) + 1
        if event.n % 2:
            raise RuntimeError("failed on purpose")

    subscription = Subscription("tests.parallel", Happened, odd_ones_fail)
    settings = _broker_settings(env, consumer_max_attempts=3)
    workers = Workers(env.app.state.uow_factory, Subscriptions([subscription]), settings)
    try:
        await workers.broker.ensure_consumers(Subscriptions([subscription]))
        async with env.uow() as uow:
            for n in range(8):
                uow.publish(Happened(n=n))
        await workers.relay.drain()
        for _ in range(100):
            await workers.broker_consumer.run_once(timeout=0.2)
            if await env.count("dead_letters") == 4:
                break
        assert await env.count("dead_letters", "attempts = 3") == 4
        assert attempts == {n: 3 if n % 2 else 1 for n in range(8)}
    finally:
        await workers.stop()
        await workers.broker.delete_stream()
        await workers.broker.close()


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_a_burst_of_completed_visits_through_jetstream_in_flight_together_is_invoiced_once_each(
    migrated_database,
    tmp_path,
    transport,  # noqa: F811
):
    settings = settings_for_tests(await migrated_database.fresh(tmp_path), tmp_path)
    settings.messaging = settings.messaging.model_copy(
        update={
            "broker_url": NATS_URL,
            "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}",
            "consumer_concurrency": 4,
        }
    )
    async with running_env(settings) as env:
        broker = env.app.state.workers.broker
        try:
            assert env.app.state.workers.broker_consumer.concurrency == 4
            appointments = await _visits(env, VISITS)
            await env.drain()
            await env.drain()
            await _one_invoice_each(env, appointments)
            assert await env.count("dead_letters") == 0
        finally:
            await broker.delete_stream()
