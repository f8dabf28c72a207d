"""Migration 0024 on SQLite and PostgreSQL: an installation from before it keeps its practitioners (now in no
department), and its first start after the upgrade creates the facility of its settings; the downgrade removes the
tables and the practitioners' column and keeps the context's events; the upgrade runs again from there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.facilities import FACILITIES, make_department
from tests.harness import every_page, revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import columns, context_tables, downgrade, execute, outbox_event_types, table_name

REVISION = "0024_facilities"
BEFORE = revision_before(REVISION)
TABLES = {"facilities", "departments", "personnel"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "fac") as settings:
        yield settings


async def _state(settings: DatabaseSettings) -> tuple[set[str], set[str]]:
    """The facilities tables present, and the practitioners' columns."""
    return (
        await context_tables(settings, "facilities", TABLES),
        await columns(settings, "practitioners", "practitioners"),
    )


async def test_an_existing_installation_upgrades_keeps_working_and_downgrades(database, tmp_path):
    await upgrade(database, BEFORE)
    practitioner_id = uuid.uuid4()
    now = datetime(2029, 12, 1, tzinfo=UTC)
    await execute(
        database,
        f"INSERT INTO {table_name(database, 'practitioners', 'practitioners')}"
        " (id, first_name, last_name, npi, specialty, practice_start_date, version, created_at, updated_at)"
        " VALUES (:id, 'Asha', 'Menon', '1234567893', 'cardiology', :start, 1, :now, :now)",
        id=practitioner_id if not database.is_sqlite else practitioner_id.hex,
        start=datetime(2010, 1, 1).date(),
        now=now if not database.is_sqlite else "2029-12-01 00:00:00.000000",
    )

    await upgrade(database)
    tables, columns = await _state(database)
    assert (tables, "department_id" in columns) == (TABLES, True)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        url = f"/api/v1/practitioners/{practitioner_id}"
        practitioner = (await env.client.get(url, headers=env.admin)).json()
        assert (practitioner["last_name"], practitioner["department_id"]) == ("Menon", None)
        [facility] = await every_page(env, FACILITIES)
        assert facility["code"] == "MAIN"
        department = await make_department(env, facility["id"])
        moved = await env.client.patch(url, json={"department_id": department["id"]}, headers=env.admin)
        assert moved.status_code == 200, moved.text
        assert [p["id"] for p in await every_page(env, "/api/v1/practitioners", facility_id=facility["id"])] == [
            str(practitioner_id)
        ]

    await downgrade(database, BEFORE)
    tables, columns = await _state(database)
    assert (tables, "department_id" in columns) == (set(), False)
    assert len(await execute(database, f"SELECT id FROM {table_name(database, 'practitioners', 'practitioners')}")) == 1
    assert "department.created" in await outbox_event_types(database)  # moved to the platform's outbox, not lost

    await upgrade(database)  # and up again, from empty tables: the next start makes the facility again
    async with running_env(settings) as env:
        assert [f["code"] for f in await every_page(env, FACILITIES)] == ["MAIN"]
