"""The transport contract: the in-process transport and NATS JetStream pass the same tests.

The NATS run needs a JetStream server (CAREMESH_TEST_NATS_URL, default nats://127.0.0.1:4222; `.ci/run` starts
one). Each test has a namespace of its own, so its stream and consumers are its own, and deletes it after."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update

from caremesh.platform.messaging.bus import Subscription, Subscriptions
from caremesh.platform.messaging.consumer import list_dead_letters, replay_dead_letter
from caremesh.platform.messaging.models import OutboxEvent
from caremesh.platform.messaging.runtime import Workers
from tests.builders.events import Happened
from tests.platform.test_messaging import Recorder, consumed, publish

NATS_URL = os.environ.get("CAREMESH_TEST_NATS_URL") or "nats://127.0.0.1:4222"


def _nats_reachable() -> bool:
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["in-process", "nats"])
def transport(request: pytest.FixtureRequest) -> str:
    if request.param == "nats" and not _nats_reachable():
        if os.environ.get("CAREMESH_TEST_NATS_URL"):
            pytest.fail(f"CAREMESH_TEST_NATS_URL={NATS_URL} is set but nothing answers there")
        pytest.skip(f"no NATS server at {NATS_URL} (start `nats-server -js` or set CAREMESH_TEST_NATS_URL)")
    return request.param


@asynccontextmanager
async def replicas(
    env, transport: str, subscriptions: list[Subscription], count: int = 1
) -> AsyncIterator[list[Workers]]:
    """`count` processes running these consumers on one database (and one namespace of the broker)."""
    updates = {"consumer_backoff_base_seconds": 0.05, "consumer_backoff_max_seconds": 0.2, "consumer_max_attempts": 3}
    if transport == "nats":
        updates |= {"broker_url": NATS_URL, "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}"}
    settings = env.app.state.settings.messaging.model_copy(update=updates)
    every = Subscriptions(subscriptions)
    workers = [Workers(env.app.state.uow_factory, every, settings) for _ in range(count)]
    try:
        yield workers
    finally:
        if workers[0].broker is not None:
            await workers[0].broker.delete_stream()
        for each in workers:
            await each.stop()


async def settle(env, workers: list[Workers], until: Callable[[], object], seconds: float = 15) -> None:
    """Relay and consume (every replica at once) until `until()` holds. Time moves on both clocks between
    rounds: the frozen one the in-process transport schedules retries by, and the real one the broker's."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        await workers[0].relay.drain()
        await asyncio.gather(*(_consume(w) for w in workers))
        if await _holds(until):
            return
        assert asyncio.get_running_loop().time() < deadline, "the transport did not get there in time"
        env.clock.advance(minutes=10)
        await asyncio.sleep(0.05)


async def _consume(workers: Workers) -> None:
    await workers.consumer.run_once()
    if workers.broker_consumer is not None:
        await workers.broker_consumer.run_once()


async def _holds(until: Callable[[], object]) -> bool:
    result = until()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


async def quiet(env, workers: list[Workers], rounds: int = 3) -> None:
    """A few more rounds, for anything that would still (wrongly) arrive."""
    for _ in range(rounds):
        await settle(env, workers, lambda: True)
        await asyncio.sleep(0.1)


async def test_publishes_after_commit_and_delivers_once_to_each_consumer(env, transport):
    first, second = Recorder(), Recorder()
    subscriptions = [first.subscription(), Subscription("tests.second", Happened, second)]
    async with replicas(env, transport, subscriptions) as workers:
        with pytest.raises(RuntimeError):
            async with env.uow() as uow:
                uow.publish(Happened(n=0))
                await uow.session.flush()
                raise RuntimeError("the use case failed after publishing")
        await quiet(env, workers)
        assert first.seen == second.seen == []  # a rolled-back event never reaches the transport
        await publish(env)
        await settle(env, workers, lambda: first.seen and second.seen)
        await quiet(env, workers)
        assert [e.payload for e in first.seen] == [e.payload for e in second.seen] == [{"n": 1}]
        assert await consumed(env) == 2
        assert await env.count("inbox") == 2
        assert await env.count("outbox_events", "published_at IS NULL") == 0


async def test_redelivers_after_a_handler_failure(env, transport):
    recorder = Recorder(failures=1, crash_after_effect=True)
    async with replicas(env, transport, [recorder.subscription()]) as workers:
        await publish(env)
        await settle(env, workers, lambda: consumed(env))
        await quiet(env, workers)
        assert len(recorder.seen) == 2  # the failed attempt, then the redelivery
        assert await consumed(env) == 1  # the failed attempt's effect was rolled back
        assert await env.count("inbox") == 1
        assert await env.count("dead_letters") == 0


async def test_dead_letters_after_max_attempts_and_replays(env, transport):
    recorder = Recorder(failures=100)
    async with replicas(env, transport, [recorder.subscription()]) as workers:
        event_id = await publish(env)
        await settle(env, workers, lambda: env.count("dead_letters"))
        await quiet(env, workers)
        assert len(recorder.seen) == 3  # consumer_max_attempts, then no more
        async with env.db.sessionmaker() as session:
            [dead] = await list_dead_letters(session)
        expected = ("tests.recorder", event_id, Happened.event_type, 3)
        assert (dead.consumer, dead.event_id, dead.event_type, dead.attempts) == expected
        assert "consumer failed on purpose" in dead.error
        assert await consumed(env) == 0

        recorder.failures = 0
        async with env.db.sessionmaker() as session, session.begin():
            assert await replay_dead_letter(session, dead.id, env.clock.now())
        await settle(env, workers, lambda: consumed(env))
        await quiet(env, workers)
        assert len(recorder.seen) == 4
        assert await consumed(env) == 1
        async with env.db.sessionmaker() as session:
            assert await list_dead_letters(session) == []


async def test_a_duplicate_publish_of_one_event_is_delivered_once(env, transport):
    recorder = Recorder()
    async with replicas(env, transport, [recorder.subscription()]) as workers:
        await publish(env)
        await settle(env, workers, lambda: recorder.seen)
        async with env.uow() as uow:  # the relay died after publishing, before marking: it publishes again
            await uow.session.execute(update(OutboxEvent).values(published_at=None))
        await settle(env, workers, lambda: _all_published(env))
        await quiet(env, workers)
        assert len(recorder.seen) == 1
        assert await consumed(env) == 1
        if workers[0].broker is not None:  # the broker itself dropped the second copy
            js = await workers[0].broker.jetstream()
            assert (await js.stream_info(workers[0].broker.stream)).state.messages == 1


async def test_replicas_sharing_a_consumer_handle_each_event_once(env, transport):
    recorder = Recorder()
    async with replicas(env, transport, [recorder.subscription()], count=2) as workers:
        for n in range(1, 21):
            await publish(env, n)
        await settle(env, workers, lambda: _count_at_least(env, 20))
        await quiet(env, workers)
        assert sorted(e.payload["n"] for e in recorder.seen) == list(range(1, 21))
        assert await consumed(env) == 20
        assert await env.count("inbox") == 20


async def _count_at_least(env, n: int) -> bool:
    return await consumed(env) >= n


async def _all_published(env) -> bool:
    return await env.count("outbox_events", "published_at IS NULL") == 0
