"""`make run`'s demo data: seeded through the API, once, with a visit invoiced, partly paid and claimed from the
patient's insurer, and an order placed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from caremesh.demo import load_or_create_credentials, seed
from caremesh.platform.db import Database
from tests.harness import MigratedDatabase, settings_for_tests


async def test_the_demo_seeds_once_and_shows_a_partly_paid_invoice(
    migrated_database: MigratedDatabase, tmp_path: Path
) -> None:
    credentials = load_or_create_credentials(tmp_path / "demo.json")
    settings = settings_for_tests(
        await migrated_database.fresh(tmp_path),
        tmp_path,
        admin_email=credentials.email("admin"),
        admin_password=credentials.passwords["admin"],
    )

    assert await seed(settings, credentials) is True
    assert await seed(settings, credentials) is False  # a second start leaves the data alone

    db = Database(settings.db)
    try:
        async with db.engine.connect() as connection:
            invoices = (await connection.execute(text("SELECT status, amount_paid FROM invoices"))).all()
            payments = (await connection.execute(text("SELECT count(*) FROM payments"))).scalar_one()
            orders = (await connection.execute(text("SELECT type, status FROM orders"))).all()
            medications = (await connection.execute(text("SELECT count(*) FROM medications"))).scalar_one()
            claims = (await connection.execute(text("SELECT status, payer_code FROM claims"))).all()
    finally:
        await db.dispose()
    assert [status for status, _ in invoices] == ["partially_paid"]
    assert payments == 1
    assert [tuple(row) for row in orders] == [("prescription", "pending")]  # the saga runs once the server does
    assert medications == 3
    assert [tuple(row) for row in claims] == [("approved", "CAREPLUS")]  # waiting for the payer's remittance
