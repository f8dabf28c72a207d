"""`caremesh users create-admin` and `caremesh permissions`, through the real command."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from caremesh.cli import cli
from caremesh.platform.permissions import markdown_table
from tests.platform.test_cli_dead_letters import cli_env  # noqa: F401 - the fixture


async def invoke(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def test_create_admin_from_the_shell_then_log_in(cli_env):  # noqa: F811
    env = cli_env
    result = await invoke("users", "create-admin", "--email", "ops@example.org", "--password", "a-strong-shell-pass-7")
    assert result.exit_code == 0, result.output
    headers = await env.login("ops@example.org", "a-strong-shell-pass-7")
    me = await env.client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["roles"] == ["admin"]


async def test_create_admin_refuses_a_weak_password_and_a_taken_email(cli_env):  # noqa: F811
    weak = await invoke("users", "create-admin", "--email", "weak@example.org", "--password", "password1234")
    assert weak.exit_code == 1
    assert "WEAK_PASSWORD" in weak.output
    taken = await invoke("users", "create-admin", "--email", "admin@example.org", "--password", "another-strong-pw-9")
    assert taken.exit_code == 1
    assert "EMAIL_TAKEN" in taken.output
    assert await cli_env.count("users", "email = 'weak@example.org'") == 0


async def test_permissions_prints_the_matrix():
    result = await invoke("permissions")
    assert result.output.strip() == markdown_table()
