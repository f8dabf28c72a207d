"""The operator's view of dead letters, through the real `caremesh` command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from caremesh.cli import cli
from tests.harness import POSTGRES_URL, dead_letter


@pytest.fixture
def cli_env(monkeypatch, env):
    url = str(env.db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CAREMESH_DATABASE_URL", url)
    if POSTGRES_URL:
        monkeypatch.setenv("CAREMESH_DATABASE_SCHEMA", env.app.state.settings.db.database_schema)
    return env


async def test_list_and_replay_dead_letters_from_the_shell(cli_env):
    env = cli_env
    async with env.uow() as uow:
        envelope = uow.publish_payload("test.happened", {"n": 1})
        uow.session.add(dead_letter(envelope, "tests.recorder"))
    runner = CliRunner()
    listed = await _invoke(runner, ["dead-letters", "list"])
    assert "tests.recorder" in listed.output
    assert "RuntimeError: boom" in listed.output

    replayed = await _invoke(runner, ["dead-letters", "replay", "--all"])
    assert replayed.exit_code == 0, replayed.output
    assert "1 dead letter(s) queued" in replayed.output
    assert await env.count("event_deliveries", "consumer = 'tests.recorder'") == 1
    assert "no dead letters" in (await _invoke(runner, ["dead-letters", "list"])).output


async def _invoke(runner, args):
    import asyncio

    return await asyncio.to_thread(runner.invoke, cli, args)
