"""Migration 0023 upgrades and downgrades on SQLite and PostgreSQL: the imaging tables (in the `imaging` schema on
PostgreSQL) come and go, orders keep their items and saga log through the change of their constraints (SQLite
rebuilds the tables), the downgrade drops imaging orders only and keeps the context's events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import alembic_config, upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.imaging import imaging_order, make_study
from tests.builders.orders import lab_order, make_lab_test, order, parties, place_order, steps
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation

BEFORE = revision_before("0023_imaging")
TABLES = {"imaging_studies", "imaging_study_days", "imaging_orders", "imaging_known_orders"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "img") as settings:
        yield settings


async def _tables(settings: DatabaseSettings) -> set[str]:
    schema = None if settings.is_sqlite else physical_schema("imaging", settings.database_schema)
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


async def _scalars(settings: DatabaseSettings, context: str, sql: str) -> list:
    """`sql` with `{schema}` naming the context's schema (nothing on SQLite)."""
    schema = "" if settings.is_sqlite else f'"{physical_schema(context, settings.database_schema)}".'
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            return list((await connection.execute(text(sql.format(schema=schema)))).scalars())
    finally:
        await db.dispose()


async def _downgrade(settings: DatabaseSettings) -> None:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), BEFORE))
    finally:
        await db.dispose()


async def test_the_upgrade_and_the_downgrade_keep_other_orders_whole(database, tmp_path):
    await upgrade(database, BEFORE)
    assert await _tables(database) == set()
    await upgrade(database)
    assert await _tables(database) == TABLES
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        patient, practitioner = await parties(env)
        lab = await place_order(env, lab_order(patient, practitioner, await make_lab_test(env)))
        imaging = await place_order(env, imaging_order(patient, practitioner, await make_study(env)))
        await env.drain()
        assert (await order(env, imaging["id"]))["status"] == "confirmed"
        lab_steps = await steps(env, lab["id"])

    await _downgrade(database)
    assert await _tables(database) == set()
    assert await _scalars(database, "orders", "SELECT type FROM {schema}orders") == ["lab"]  # imaging's went
    assert "imaging.scheduled" in await _scalars(database, "platform", "SELECT type FROM {schema}outbox_events")

    await upgrade(database)  # and up again: the lab order is whole after both rebuilds
    assert await _tables(database) == TABLES
    async with running_env(settings) as env:
        kept = await order(env, lab["id"])
        assert (kept["status"], len(kept["items"])) == ("confirmed", 1)
        assert await steps(env, lab["id"]) == lab_steps
        again = await place_order(env, imaging_order(patient, practitioner, await make_study(env)))
        await env.drain()
        assert (await order(env, again["id"]))["status"] == "confirmed"
