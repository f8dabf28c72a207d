"""The relay, woken after a commit, looks in the outboxes that commit wrote to instead of in every context's;
events committed where no wake points (by another process) still go out on its periodic look at all of them."""

from __future__ import annotations

import asyncio
import contextlib

from caremesh.platform.messaging.bus import InProcessTransport, Subscriptions
from caremesh.platform.messaging.relay import OutboxRelay
from tests.builders.events import Happened
from tests.platform.test_messaging import Recorder


async def committed_to(env, outbox: str, n: int) -> None:
    async with env.uow() as uow:
        uow.publish_payload(Happened.event_type, Happened(n=n).to_payload(), outbox=outbox)


async def published(env) -> int:
    return await env.count("outbox_events", "published_at IS NOT NULL AND type = :t", t=Happened.event_type)


async def until(condition, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


def relay_of(env, poll_seconds: float) -> OutboxRelay:
    transport = InProcessTransport(Subscriptions([Recorder().subscription()]))
    return OutboxRelay(env.db, transport, env.clock, poll_seconds=poll_seconds)


async def running(relay: OutboxRelay):
    task = asyncio.create_task(relay.run_forever())
    await asyncio.sleep(0.05)  # its first look at every outbox is over
    return task


async def test_the_uow_tells_which_outboxes_its_commit_wrote_to(env):
    told: list[set[str]] = []
    factory = env.app.state.uow_factory
    original, factory.on_events_committed = factory.on_events_committed, lambda outboxes: told.append(set(outboxes))
    try:
        async with env.uow() as uow:
            uow.publish_payload(Happened.event_type, Happened(n=1).to_payload(), outbox="billing")
            uow.publish_payload(Happened.event_type, Happened(n=2).to_payload(), outbox="patients")
        async with env.uow():
            pass
    finally:
        factory.on_events_committed = original

    assert told == [{"billing", "patients"}]


async def test_a_woken_relay_publishes_what_was_committed_to_the_outbox_it_was_told(env):
    relay = relay_of(env, poll_seconds=3600)
    task = await running(relay)
    try:
        await committed_to(env, "billing", 1)
        relay.wake({"billing"})
        await until(lambda: published_is(env, 1))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_what_another_process_committed_goes_out_on_the_periodic_look(env):
    relay = relay_of(env, poll_seconds=0.2)
    task = await running(relay)
    try:
        await committed_to(env, "patients", 1)  # no wake: as if committed by another process
        relay.wake({"billing"})  # a wake that points elsewhere
        await until(lambda: published_is(env, 1))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def published_is(env, count: int) -> bool:
    return await published(env) == count
