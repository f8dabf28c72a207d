"""Migration 0026 (stored payment methods, settlements, settlement dates) upgrades and downgrades on SQLite and
PostgreSQL keeping every payment and refund; completed ones get the clinic day they were created on as their
settlement date, in the clinic timezone the migration runs with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import downgrade

REVISION = "0026_payment_methods_settlements"
BEFORE = revision_before(REVISION)
LATE_EVENING = datetime(2030, 1, 7, 20, 30, tzinfo=UTC)  # 2030-01-08 02:00 in Kolkata
PAYMENT, FAILED, REFUND = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    ("33333333-3333-4333-8333-333333333333"),
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "pay") as settings:
        yield settings


def _table(settings: DatabaseSettings, name: str) -> str:
    return name if settings.is_sqlite else f'"{physical_schema("payments", settings.database_schema)}".{name}'


async def _sql(settings: DatabaseSettings, statement: str, **params: object) -> list[tuple]:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            sql = statement.format(payments=_table(settings, "payments"), refunds=_table(settings, "refunds"))
            result = await connection.execute(sa.text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await db.dispose()


async def _seed(settings: DatabaseSettings) -> None:
    """A completed cash payment with a refund, and a failed card payment, as 0024's tables hold them."""
    when = LATE_EVENING if not settings.is_sqlite else LATE_EVENING.replace(tzinfo=None)
    insert = (
        "INSERT INTO {payments} (id, reference, invoice_id, patient_id, amount, currency, method, status,"
        " failure_reason, refunded_amount, created_at, updated_at) VALUES"
        " (:id, :reference, :id, :id, '100.00', 'INR', :method, :status, :reason, :refunded, :at, :at)"
    )
    ids = {"id": PAYMENT, "reference": "PAY-2030-000001", "method": "cash", "status": "completed", "reason": None}
    await _sql(settings, insert, **_ids(settings, ids), refunded="10.00", at=when)
    ids = {"id": FAILED, "reference": "PAY-2030-000002", "method": "card", "status": "failed", "reason": "declined"}
    await _sql(settings, insert, **_ids(settings, ids), refunded="0.00", at=when)
    await _sql(
        settings,
        "INSERT INTO {refunds} (id, reference, payment_id, amount, currency, reason, status, created_at, updated_at)"
        " VALUES (:id, 'RFD-2030-000001', :payment, '10.00', 'INR', 'overpaid', 'completed', :at, :at)",
        **_ids(settings, {"id": REFUND, "payment": PAYMENT}),
        at=when,
    )


def _ids(settings: DatabaseSettings, values: dict) -> dict:
    """UUIDs as the column stores them: 32 hex characters on SQLite."""
    if not settings.is_sqlite:
        return values
    return {k: v.replace("-", "") if k in ("id", "payment") else v for k, v in values.items()}


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


@pytest.mark.parametrize(("timezone", "day"), [("UTC", "2030-01-07"), ("Asia/Kolkata", "2030-01-08")])
async def test_0026_dates_completed_money_and_goes_both_ways_keeping_rows(
    database, tmp_path, monkeypatch, timezone, day
):
    monkeypatch.setenv("CAREMESH_TIMEZONE", timezone)
    await upgrade(database, BEFORE)
    await _seed(database)

    await upgrade(database, REVISION)

    dated = await _sql(database, "SELECT status, settlement_date FROM {payments} ORDER BY reference")
    assert [(status, settled and _day(settled)) for status, settled in dated] == [("completed", day), ("failed", None)]
    assert [_day(d) for (d,) in await _sql(database, "SELECT settlement_date FROM {refunds}")] == [day]

    await downgrade(database, BEFORE)
    assert await _sql(database, "SELECT count(*) FROM {payments}") == [(2,)]
    assert await _sql(database, "SELECT count(*) FROM {refunds}") == [(1,)]
    with pytest.raises(sa.exc.DBAPIError):  # the column went with the downgrade
        await _sql(database, "SELECT settlement_date FROM {payments}")

    await upgrade(database)
    monkeypatch.setenv("CAREMESH_TIMEZONE", "UTC")
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:  # the app runs on it, and the migrated day reads as settled
        response = await env.client.get(f"/api/v1/settlements/{day}", headers=env.admin)
        assert response.status_code == 200, response.text
        assert (response.json()["payments"]["amount"], response.json()["refunds"]["amount"]) == ("100.00", "10.00")
