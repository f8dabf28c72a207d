"""The event tables forget what is old and done, and nothing that is still needed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from typer.testing import CliRunner

from caremesh.cli import cli
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.retention import prune
from tests.builders.events import Happened
from tests.harness import dead_letter
from tests.platform.test_cli_dead_letters import cli_env  # noqa: F401 - the fixture


async def _noop(uow, event, envelope) -> None:
    return None


async def test_prune_keeps_what_is_pending_young_or_unreplayed(make_env):
    async with make_env(subscriptions=[Subscription("tests.noop", Happened, _noop)]) as env:
        async with env.uow() as uow:
            old = uow.publish_payload("test.happened", {"n": 1})
            uow.session.add(dead_letter(old, "tests.noop", replayed_at=env.clock.now()))
            uow.session.add(dead_letter(old, "tests.other"))
        await env.drain()  # published and handled: an outbox row and an inbox row, both old soon
        env.clock.advance(days=31)
        async with env.uow() as uow:
            uow.publish_payload("test.happened", {"n": 2})  # young
        await env.drain()
        async with env.uow() as uow:
            uow.publish_payload("test.happened", {"n": 3})  # old enough but never relayed: must stay

        async with env.uow() as uow:
            pruned = await prune(uow.session, before=env.clock.now() - timedelta(days=30))

        assert (pruned.outbox_events, pruned.inbox_entries, pruned.dead_letters) == (1, 1, 1)
        assert await env.count("outbox_events") == 2
        assert await env.count("outbox_events", "published_at IS NULL") == 1
        assert await env.count("inbox") == 1
        assert await env.count("dead_letters", "replayed_at IS NULL") == 1


async def test_prune_from_the_shell(cli_env):  # noqa: F811
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["events", "prune", "--older-than-days", "30"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "pruned: outbox events 0, inbox entries 0, replayed dead letters 0, idempotency keys 0"
    )
    refused = await asyncio.to_thread(CliRunner().invoke, cli, ["events", "prune", "--older-than-days", "0"])
    assert refused.exit_code != 0
