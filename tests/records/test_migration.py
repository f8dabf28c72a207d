"""Migration 0021 upgrades and downgrades on SQLite and PostgreSQL: the tables (in the `records` schema on
PostgreSQL) come and go, an installation at 0020 keeps working after the upgrade, and the downgrade keeps the
context's events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import alembic_config, upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.records import make_encounter, make_record, note
from tests.harness import running_env, settings_for_tests, throwaway_installation

BEFORE = "0020_audit_sealer"
TABLES = {"medical_records", "medical_record_versions"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "rec") as settings:
        yield settings


async def _tables(settings: DatabaseSettings) -> set[str]:
    """The records tables present (on PostgreSQL: in the records schema, if it exists)."""
    schema = None if settings.is_sqlite else physical_schema("records", settings.database_schema)
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:

            def names(sync) -> set[str]:
                inspector = inspect(sync)
                if schema is not None and schema not in inspector.get_schema_names():
                    return set()
                return set(inspector.get_table_names(schema=schema)) & TABLES

            return await connection.run_sync(names)
    finally:
        await db.dispose()


async def _downgrade(settings: DatabaseSettings) -> None:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), BEFORE))
    finally:
        await db.dispose()


async def _outbox_types(settings: DatabaseSettings) -> list[str]:
    schema = None if settings.is_sqlite else physical_schema("platform", settings.database_schema)
    table = "outbox_events" if schema is None else f'"{schema}".outbox_events'
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            return list((await connection.execute(text(f"SELECT type FROM {table} ORDER BY seq"))).scalars())
    finally:
        await db.dispose()


async def test_the_upgrade_and_the_downgrade(database, tmp_path):
    await upgrade(database, BEFORE)
    assert await _tables(database) == set()

    await upgrade(database)
    assert await _tables(database) == TABLES
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        visit = await make_encounter(env)
        await make_record(env, visit["patient"]["id"], note())
        assert await env.count("medical_record_versions") == 1

    await _downgrade(database)
    assert await _tables(database) == set()
    assert "medical_record.created" in await _outbox_types(database)  # moved to the platform's outbox, not lost

    await upgrade(database)  # and up again, from empty tables
    assert await _tables(database) == TABLES
    async with running_env(settings) as env:
        visit = await make_encounter(env)
        await make_record(env, visit["patient"]["id"], note())
        assert await env.count("medical_records") == 1
