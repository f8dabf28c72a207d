"""Migration 0022 (one consultation invoice per visit, lines that remember their record) upgrades and downgrades on
SQLite and PostgreSQL keeping every invoice and line, and the invoice's arithmetic stays the database's (SQLite
rebuilds the table: its CHECK constraints must come through)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.billing import completed_visit_invoice
from tests.builders.payments import make_payment
from tests.builders.records import record_procedure
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import downgrade

BEFORE = revision_before("0022_procedure_billing")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "bil") as settings:
        yield settings


def _table(settings: DatabaseSettings, name: str) -> str:
    return name if settings.is_sqlite else f'"{physical_schema("billing", settings.database_schema)}".{name}'


async def _rows(settings: DatabaseSettings) -> tuple[int, int]:
    """(invoices, invoice lines)."""
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            invoices = await connection.scalar(text(f"SELECT count(*) FROM {_table(settings, 'invoices')}"))
            lines = await connection.scalar(text(f"SELECT count(*) FROM {_table(settings, 'invoice_lines')}"))
            return invoices, lines
    finally:
        await db.dispose()


async def _refuses(settings: DatabaseSettings, statement: str) -> bool:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text(statement.format(invoices=_table(settings, "invoices"))))
    except IntegrityError:
        return True
    finally:
        await db.dispose()
    return False


async def test_0022_keeps_invoices_lines_and_the_invoice_checks_both_ways(database, tmp_path):
    await upgrade(database)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        bill = await completed_visit_invoice(env)
        await record_procedure(env, bill, "99213")
        await env.drain()
    assert await _rows(database) == (1, 2)

    await downgrade(database, BEFORE)
    assert await _rows(database) == (1, 2)
    assert await _refuses(database, "UPDATE {invoices} SET total = '1.00'")  # total_adds_up, after the rebuild

    await upgrade(database)
    assert await _rows(database) == (1, 2)
    assert await _refuses(database, "UPDATE {invoices} SET total = '1.00'")
    async with running_env(settings) as env:  # after a payment, the visit's next procedure is a second invoice
        await make_payment(env, bill["id"], "10.00")
        await record_procedure(env, bill, "99213")
        await env.drain()
    assert await _rows(database) == (2, 3)
