"""Migration 0021 upgrades and downgrades on SQLite and PostgreSQL: the tables (in the `records` schema on
PostgreSQL) come and go, an installation at 0020 keeps working after the upgrade, and the downgrade keeps the
context's events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.records import make_encounter, make_record, note
from tests.harness import running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import context_tables, downgrade, outbox_event_types

BEFORE = "0020_audit_sealer"
TABLES = {"medical_records", "medical_record_versions"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "rec") as settings:
        yield settings


async def test_the_upgrade_and_the_downgrade(database, tmp_path):
    await upgrade(database, BEFORE)
    assert await context_tables(database, "records", TABLES) == set()

    await upgrade(database)
    assert await context_tables(database, "records", TABLES) == TABLES
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        visit = await make_encounter(env)
        await make_record(env, visit["patient"]["id"], note())
        assert await env.count("medical_record_versions") == 1

    await downgrade(database, BEFORE)
    assert await context_tables(database, "records", TABLES) == set()
    assert "medical_record.created" in await outbox_event_types(database)  # moved to the platform's outbox, not lost

    await upgrade(database)  # and up again, from empty tables
    assert await context_tables(database, "records", TABLES) == TABLES
    async with running_env(settings) as env:
        visit = await make_encounter(env)
        await make_record(env, visit["patient"]["id"], note())
        assert await env.count("medical_records") == 1
