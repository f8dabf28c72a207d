"""Migration 0025 (credit notes, manual and premium invoices) upgrades and downgrades on SQLite and PostgreSQL keeping
every invoice and line; the invoice's CHECK constraints come through the SQLite rebuild both ways; the invoices issued
before it keep their insurance category; and it is not undone while credit notes or the new kinds exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from caremesh.platform.db import Database
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.billing.test_migration_0022 import _refuses, _rows, _table
from tests.builders.billing import completed_visit_invoice, free_line, make_credit_note, manual_invoice, read_invoice
from tests.builders.payments import make_payment
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import downgrade

BEFORE = revision_before("0025_billing_credit_notes")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "bil") as settings:
        yield settings


async def _scalar(settings: DatabaseSettings, sql: str) -> object:
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            return await connection.scalar(text(sql.format(invoices=_table(settings, "invoices"))))
    finally:
        await db.dispose()


async def test_0025_keeps_invoices_and_their_checks_both_ways(database, tmp_path):
    await upgrade(database)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        bill = await completed_visit_invoice(env)
        await make_payment(env, bill["id"], "10.00")
    assert await _rows(database) == (1, 1)

    await downgrade(database, BEFORE)
    assert await _rows(database) == (1, 1)
    assert await _refuses(database, "UPDATE {invoices} SET total = '1.00'")  # total_adds_up, after the rebuild
    assert await _refuses(database, "UPDATE {invoices} SET amount_paid = '168.01'")  # payments within, the old way
    assert await _refuses(database, "UPDATE {invoices} SET kind = 'manual'")  # the old kinds

    await upgrade(database)
    assert await _rows(database) == (1, 1)
    assert await _scalar(database, "SELECT insurance_category FROM {invoices}") == "consultation"
    assert await _refuses(database, "UPDATE {invoices} SET total = '1.00'")
    assert await _refuses(database, "UPDATE {invoices} SET credited_amount = '158.01'")
    async with running_env(settings) as env:
        assert (await read_invoice(env, bill["id"]))["credited_amount"] == "0.00"
        await make_credit_note(env, bill["id"], "158.00")
        assert (await read_invoice(env, bill["id"]))["status"] == "paid"
        await manual_invoice(env, bill["patient_id"], [free_line()])

    with pytest.raises(RuntimeError, match="cannot be undone"):
        await downgrade(database, BEFORE)
    assert await _rows(database) == (2, 2)
    assert await _scalar(database, "SELECT count(*) FROM {invoices} WHERE status = 'paid'") == 1
