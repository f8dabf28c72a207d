"""Migration 0023 upgrades and downgrades on SQLite and PostgreSQL: the imaging tables (in the `imaging` schema on
PostgreSQL) come and go, orders keep their items and saga log through the change of their constraints (SQLite
rebuilds the tables), the downgrade drops imaging orders only and keeps the context's events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.imaging import imaging_order, make_study
from tests.builders.orders import lab_order, make_lab_test, order, parties, place_order, steps
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import context_tables, downgrade, outbox_event_types, scalars, table_name

BEFORE = revision_before("0023_imaging")
TABLES = {"imaging_studies", "imaging_study_days", "imaging_orders", "imaging_known_orders"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "img") as settings:
        yield settings


async def test_the_upgrade_and_the_downgrade_keep_other_orders_whole(database, tmp_path):
    await upgrade(database, BEFORE)
    assert await context_tables(database, "imaging", TABLES) == set()
    await upgrade(database)
    assert await context_tables(database, "imaging", TABLES) == TABLES
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        patient, practitioner = await parties(env)
        lab = await place_order(env, lab_order(patient, practitioner, await make_lab_test(env)))
        imaging = await place_order(env, imaging_order(patient, practitioner, await make_study(env)))
        await env.drain()
        assert (await order(env, imaging["id"]))["status"] == "confirmed"
        lab_steps = await steps(env, lab["id"])

    await downgrade(database, BEFORE)
    assert await context_tables(database, "imaging", TABLES) == set()
    orders = table_name(database, "orders", "orders")
    assert await scalars(database, f"SELECT type FROM {orders}") == ["lab"]  # imaging's went
    assert "imaging.scheduled" in await outbox_event_types(database)

    await upgrade(database)  # and up again: the lab order is whole after both rebuilds
    assert await context_tables(database, "imaging", TABLES) == TABLES
    async with running_env(settings) as env:
        kept = await order(env, lab["id"])
        assert (kept["status"], len(kept["items"])) == ("confirmed", 1)
        assert await steps(env, lab["id"]) == lab_steps
        again = await place_order(env, imaging_order(patient, practitioner, await make_study(env)))
        await env.drain()
        assert (await order(env, again["id"]))["status"] == "confirmed"
