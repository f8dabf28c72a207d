"""Migration 0029 (profile phone, session user agent and last use, email verification tokens, templates for any
event) upgrades and downgrades on SQLite and PostgreSQL keeping users, sessions and the built-in templates; the
templates added for other events go with the downgrade (the older code knows only the built-in kinds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import downgrade

REVISION = "0029_identity_registration"
BEFORE = revision_before(REVISION)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "idn") as settings:
        yield settings


def _table(settings: DatabaseSettings, context: str, name: str) -> str:
    return name if settings.is_sqlite else f'"{physical_schema(context, settings.database_schema)}".{name}'


async def _counts(settings: DatabaseSettings) -> dict[str, int]:
    tables = {
        "users": ("identity", "users"),
        "sessions": ("identity", "auth_sessions"),
        "templates": ("notifications", "notification_templates"),
    }
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            return {
                name: await connection.scalar(text(f"SELECT count(*) FROM {_table(settings, *where)}"))
                for name, where in tables.items()
            }
    finally:
        await db.dispose()


async def test_0029_keeps_users_sessions_and_built_in_templates_both_ways(database, tmp_path):
    await upgrade(database)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:  # the admin's login is a session with a user agent
        added = {
            "code": "claim_submitted.email",
            "event_type": "claim.submitted",
            "channel": "email",
            "subject": "Claim {{ number }}",
            "body": "Claim {{ number }} is sent.",
        }
        assert (
            await env.client.post("/api/v1/notification-templates", json=added, headers=env.admin)
        ).status_code == 201
    upgraded = await _counts(database)
    assert upgraded["users"] == 1
    assert upgraded["sessions"] >= 1

    await downgrade(database, BEFORE)
    assert await _counts(database) == {**upgraded, "templates": upgraded["templates"] - 1}

    await upgrade(database)
    assert await _counts(database) == {**upgraded, "templates": upgraded["templates"] - 1}
    async with running_env(settings) as env:  # sessions from before the upgrade are listed, last used when made
        sessions = (await env.client.get("/api/v1/auth/sessions", headers=env.admin)).json()["items"]
        assert all(s["last_used_at"] >= s["created_at"] for s in sessions)
        assert any(s["current"] for s in sessions)
