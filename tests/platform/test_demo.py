"""`make run`'s demo data: seeded through the API, once, with a visit invoiced, partly paid and claimed from the
patient's insurer, and an order placed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from caremesh.app import create_app
from caremesh.demo import load_or_create_credentials, seed
from caremesh.platform.db import Database
from caremesh.platform.settings import Settings
from tests.harness import MigratedDatabase, search_every_schema, settings_for_tests


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
    search_every_schema(db)
    try:
        async with db.engine.connect() as connection:
            invoices = (await connection.execute(text("SELECT status, amount_paid FROM invoices"))).all()
            payments = (await connection.execute(text("SELECT count(*) FROM payments"))).scalar_one()
            orders = (await connection.execute(text("SELECT type, status FROM orders"))).all()
            medications = (await connection.execute(text("SELECT count(*) FROM medications"))).scalar_one()
            claims = (await connection.execute(text("SELECT status, payer_code FROM claims"))).all()
            diagnoses = (await connection.execute(text("SELECT diagnosis_codes FROM claims"))).scalar_one()
            records = (await connection.execute(text("SELECT type FROM medical_records"))).scalars().all()
            lines = (await connection.execute(text("SELECT code FROM invoice_lines"))).scalars().all()
            unplaced = "SELECT count(*) FROM practitioners WHERE department_id IS NULL"
            practitioners_without_department = (await connection.execute(text(unplaced))).scalar_one()
    finally:
        await db.dispose()
    assert [status for status, _ in invoices] == ["partially_paid"]
    assert payments == 1
    # A prescription and an imaging order; the saga runs once the server does.
    assert sorted(tuple(row) for row in orders) == [("imaging", "pending"), ("prescription", "pending")]
    assert medications == 3
    assert [tuple(row) for row in claims] == [("approved", "CAREPLUS")]  # waiting for the payer's remittance
    # The visit's record: vital signs, a diagnosis that the claim carries, an ECG billed on the visit's invoice.
    assert sorted(records) == ["diagnosis", "procedure", "vital_signs"]
    assert (json.loads(diagnoses) if isinstance(diagnoses, str) else diagnoses) == ["I10"]  # PostgreSQL decodes JSON
    assert "93000" in lines
    assert practitioners_without_department == 0


@asynccontextmanager
async def demo_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield app, client


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, (email, response.text)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_every_demo_login_works_and_the_pharmacist_and_lab_technician_can_do_their_part(
    migrated_database: MigratedDatabase, tmp_path: Path
) -> None:
    credentials = load_or_create_credentials(tmp_path / "demo.json")
    assert {"pharmacist", "lab_technician"} <= {role for role, _, _ in credentials.rows()}
    settings = settings_for_tests(
        await migrated_database.fresh(tmp_path),
        tmp_path,
        admin_email=credentials.email("admin"),
        admin_password=credentials.passwords["admin"],
    )
    assert await seed(settings, credentials) is True

    async with demo_client(settings) as (_, client):
        headers = {}
        for role, email, password in credentials.rows():
            headers[role] = await login(client, email, password)
            me = (await client.get("/api/v1/auth/me", headers=headers[role])).json()
            assert me["roles"] == [role]
        reservations = await client.get("/api/v1/pharmacy/reservations", headers=headers["pharmacist"])
        assert reservations.status_code == 200, reservations.text
        stocked = await client.post(
            "/api/v1/medications",
            json={
                "code": "TOUR-1",
                "name": "Cetirizine 10 mg",
                "unit": "tablet",
                "unit_price": "2.50",
                "stock_quantity": 20,
            },
            headers=headers["pharmacist"],
        )
        assert stocked.status_code == 201, stocked.text
        lab_orders = await client.get("/api/v1/lab-orders", headers=headers["lab_technician"])
        assert lab_orders.status_code == 200, lab_orders.text


async def test_an_older_demo_gains_the_new_logins_on_its_next_start(
    migrated_database: MigratedDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "demo.json"
    credentials = load_or_create_credentials(path)
    settings = settings_for_tests(
        await migrated_database.fresh(tmp_path),
        tmp_path,
        admin_email=credentials.email("admin"),
        admin_password=credentials.passwords["admin"],
    )
    assert await seed(settings, credentials) is True
    # An older demo: its file had no pharmacist or lab technician, and neither had its database.
    older = {r: p for r, p in credentials.passwords.items() if r not in {"pharmacist", "lab_technician"}}
    path.write_text(json.dumps({"passwords": older}))
    # Rename the two users away, as if the older seed had never created them.
    db = Database(settings.db)
    search_every_schema(db)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(
                text("UPDATE users SET email = 'gone-' || email WHERE email IN (:a, :b)"),
                {"a": credentials.email("pharmacist"), "b": credentials.email("lab_technician")},
            )
    finally:
        await db.dispose()

    again = load_or_create_credentials(path)
    assert {r: again.passwords[r] for r in older} == older
    assert await seed(settings, again) is False
    async with demo_client(settings) as (_, client):
        await login(client, again.email("pharmacist"), again.passwords["pharmacist"])
        await login(client, again.email("lab_technician"), again.passwords["lab_technician"])
