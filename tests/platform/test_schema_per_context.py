"""A schema per context on PostgreSQL (migration 0019): a fresh install puts every table in its context's
schema; an installation with data in it upgrades in place, serves it and delivers its pending events once;
the downgrade puts everything back. SQLite keeps one file: the same journey must hold there too."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import func, select

from caremesh.models import SCHEMAS, metadata
from caremesh.platform.db import Database, physical_schema
from caremesh.platform.messaging.consumer import list_dead_letters
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import every_messaging_set
from caremesh.platform.migrate import alembic_config, upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.billing import completed_visit, invoice_of
from tests.builders.patients import make_patient
from tests.harness import (
    POSTGRES_URL,
    T0,
    _asyncpg_dsn,
    dead_letter,
    running_env,
    settings_for_tests,
    throwaway_installation,
)

BEFORE = "0018_open_premium_bands"


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "pc") as settings:
        yield settings


async def tables_by_schema(prefix: str) -> dict[str, set[str]]:
    """Schema → its tables, for every schema whose name starts with `prefix`."""
    connection = await asyncpg.connect(_asyncpg_dsn())
    try:
        rows = await connection.fetch(
            "SELECT n.nspname, c.relname FROM pg_namespace n LEFT JOIN pg_class c"
            " ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') WHERE n.nspname LIKE $1 || '%'",
            prefix,
        )
    finally:
        await connection.close()
    found: dict[str, set[str]] = {}
    for schema, table in rows:
        found.setdefault(schema, set()).update([table] if table else [])
    return found


def tables_at_0018() -> set[str]:
    """The tables 0019 found (fixed in that migration): the layout its downgrade puts back. Today's models may have
    more, created by later migrations that their own downgrades remove."""
    moved = importlib.import_module("caremesh.migrations.versions.0019_schema_per_context").TABLES
    return set().union(*moved.values())


def expected_tables(prefix: str) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {prefix: {"alembic_version"}}
    for table in metadata.tables.values():
        expected.setdefault(physical_schema(table.schema, prefix), set()).add(table.name)
    return expected


@pytest.mark.skipif(not POSTGRES_URL, reason="schemas exist on PostgreSQL only")
async def test_a_fresh_install_puts_every_table_in_its_contexts_schema(installation):
    await upgrade(installation)
    prefix = installation.database_schema
    found = await tables_by_schema(prefix)
    assert found == expected_tables(prefix)
    for schema in SCHEMAS:  # each context with its own outbox, deliveries, inbox and dead letters
        assert {"outbox_events", "inbox", "event_deliveries", "dead_letters"} <= found[f"{prefix}_{schema}"]
    assert len(found) == len(SCHEMAS) + 1  # the contexts', the platform's and the version table's


async def test_an_installation_upgrades_in_place_and_back_with_its_data(installation, tmp_path):
    await upgrade(installation)
    settings = settings_for_tests(installation, tmp_path)
    async with running_env(settings) as env:
        await completed_visit(env)
        await env.drain()  # invoiced: consumers have handled events, the inbox has rows
        patient = await make_patient(env)
        visit = await completed_visit(env, patient=patient)  # booked and completed: pending in the outbox
        async with env.uow() as uow:
            uow.session.add(dead_letter(Envelope(type="test.failed", payload={}, occurred_at=T0), "tests.recorder"))
        before = await counts(env.db)
        clock = env.clock
    assert before["pending"] >= 2
    assert before["inbox"] >= 1
    assert before["patients"] == 2
    if POSTGRES_URL:  # each event in the outbox of its publisher, each handled one in its consumer's inbox
        assert (before["pending in scheduling"], before["pending in patients"]) == (2, 1)  # booked, completed
        assert before["inbox in billing"] >= 1
        assert before["inbox"] == sum(before[f"inbox in {schema}"] for schema in SCHEMAS)

    await migrate_down(installation)
    if POSTGRES_URL:  # 0018's layout: everything back in the installation's schema, no schema per context
        prefix = installation.database_schema
        assert await tables_by_schema(prefix) == {prefix: {"alembic_version", *tables_at_0018()}}
        connection = await asyncpg.connect(_asyncpg_dsn())
        try:
            pending = await connection.fetchval(
                f'SELECT count(*) FROM "{prefix}".outbox_events WHERE published_at IS NULL'
            )
        finally:
            await connection.close()
        assert pending == before["pending"]

    await upgrade(installation)
    async with running_env(settings, clock=clock) as env:  # same time: the pending deliveries are due
        assert await counts(env.db) == before
        response = await env.client.get(f"/api/v1/patients/{patient['id']}", headers=env.admin)
        assert response.status_code == 200, response.text
        await env.drain()
        await env.drain()
        invoice = await invoice_of(env, visit["id"])
        assert invoice["appointment_id"] == visit["id"]
        assert await env.count("invoices") == 2  # delivered once: one invoice per visit
        after = await counts(env.db)
        assert after["pending"] == 0
        async with env.db.sessionmaker() as session:
            [dead] = await list_dead_letters(session)
        assert dead.event_type == "test.failed"


async def counts(db: Database) -> dict[str, int]:
    """Pending outbox events and inbox rows of every context (by schema too), and patients."""
    found = {"pending": 0, "inbox": 0}
    async with db.engine.connect() as connection:
        for tables in every_messaging_set(db.dialect):
            outbox, inbox = tables.outbox, tables.inbox
            pending = await connection.scalar(
                select(func.count()).select_from(outbox).where(outbox.published_at.is_(None))
            )
            handled = await connection.scalar(select(func.count()).select_from(inbox))
            found["pending"] += pending
            found["inbox"] += handled
            if db.dialect == "postgresql":
                found[f"pending in {tables.schema}"] = pending
                found[f"inbox in {tables.schema}"] = handled
        found["patients"] = await connection.scalar(
            select(func.count()).select_from(metadata.tables["patients.patients"])
        )
    return found


async def migrate_down(settings: DatabaseSettings) -> None:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), BEFORE))
    finally:
        await db.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="one outbox per context on PostgreSQL only")
async def test_a_process_relays_the_outboxes_of_its_own_contexts_only(env):
    from caremesh.platform.messaging.bus import Subscriptions
    from caremesh.platform.messaging.runtime import Workers

    await make_patient(env)  # patient.registered, in the patients context's outbox
    factory, settings = env.app.state.uow_factory, env.app.state.settings.messaging
    billing = Workers(factory, Subscriptions(), settings, outboxes=("billing", "platform"))
    patients = Workers(factory, Subscriptions(), settings, outboxes=("patients", "platform"))

    assert await billing.relay.drain() == 0
    assert await env.count("outbox_events", "published_at IS NULL") == 1
    assert await patients.relay.drain() == 1
    assert await env.count("outbox_events", "published_at IS NULL") == 0


def test_events_go_to_their_publishers_outbox_and_consumers_keep_their_own_tables():
    from caremesh.platform.messaging.models import schema_of_consumer, schema_of_event
    from caremesh.scheduling.events import AppointmentCompleted

    assert schema_of_event(AppointmentCompleted) == "scheduling"
    assert schema_of_event(type("Elsewhere", (), {"__module__": "tests.platform.fakes"})) == "platform"
    assert [schema_of_consumer(name) for name in ("billing", "billing.reminders", "tests.recorder")] == [
        "billing",
        "billing",
        "platform",
    ]


def test_sqlite_keeps_one_set_of_tables():
    from caremesh.models import physical_metadata
    from caremesh.platform.db import SchemaMap

    tables = physical_metadata(SchemaMap("sqlite", None)).tables
    assert {"outbox_events", "inbox", "event_deliveries", "dead_letters", "invoices"} <= set(tables)
    assert len(tables) == len({table.name for table in metadata.tables.values()})


async def test_the_dead_letter_command_lists_every_contexts_dead_letters(env, tmp_path):
    """In its own process, which imports no context until it needs their tables."""
    failed = Envelope(type="appointment.completed", payload={}, occurred_at=T0)
    async with env.uow() as uow:
        uow.session.add(dead_letter(failed, "billing"))  # billing's own table on PostgreSQL
        uow.session.add(dead_letter(Envelope(type="test.failed", payload={}, occurred_at=T0), "tests.recorder"))
    variables = {k: v for k, v in os.environ.items() if not k.startswith("CAREMESH_")}
    variables["CAREMESH_DATABASE_URL"] = env.db.settings.database_url
    if env.db.settings.database_schema:
        variables["CAREMESH_DATABASE_SCHEMA"] = env.db.settings.database_schema
    caremesh = Path(sys.executable).parent / "caremesh"
    listed = await asyncio.to_thread(
        subprocess.run,
        [str(caremesh), "dead-letters", "list"],
        env=variables,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "billing  appointment.completed" in listed.stdout
    assert "tests.recorder  test.failed" in listed.stdout
