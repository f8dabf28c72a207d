"""Migration 0017 moves the Idempotency-Keys to the platform in place: payments' keys survive, replayable,
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import JSON, Integer, String, Uuid, column, func, insert, select, table

from caremesh.platform.db import Database, UTCDateTime
from caremesh.platform.idempotency.models import IdempotencyKey
from caremesh.platform.migrate import alembic_config, upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.harness import POSTGRES_URL, drop_schemas

BEFORE = "0016_claims"
AT = datetime(2030, 1, 7, 9, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    if not POSTGRES_URL:
        yield DatabaseSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
        return
    schema = f"cm_mig_{uuid.uuid4().hex[:8]}"
    yield DatabaseSettings(database_url=POSTGRES_URL, database_schema=schema)
    drop_schemas(schema)


async def test_payment_keys_survive_the_upgrade_and_the_table_takes_any_operation(database):
    await upgrade(database, BEFORE)
    db = Database(database)
    pending_payment = uuid.uuid4()
    try:
        async with db.engine.begin() as connection:
            await connection.execute(
                insert(OLD_SHAPE),
                [
                    _old_row("k-1", state="completed", response_status=201, response_body={"id": "p-1"}),
                    _old_row("k-2", state="in_progress", resource_id=pending_payment),
                ],
            )
        await db.dispose()

        await upgrade(database)

        db = Database(database)
        async with db.sessionmaker() as session:
            rows = {row.key: row for row in await session.scalars(select(IdempotencyKey))}
        assert (rows["k-1"].state, rows["k-1"].response_status, rows["k-1"].response_body) == (
            "completed",
            201,
            {"id": "p-1"},
        )
        assert (rows["k-2"].state, rows["k-2"].resource_id) == ("in_progress", pending_payment)
        async with db.sessionmaker() as session, session.begin():
            await session.execute(
                insert(IdempotencyKey).values(
                    id=uuid.uuid4(),
                    scope="POST /api/v1/pharmacy/reservations/{reservation_id}/dispense",
                    principal_id=uuid.UUID(int=1),
                    key="k-1",
                    fingerprint="f" * 64,
                    state="completed",
                    attempt=1,
                    response_status=200,
                    response_text="{}",
                    response_headers=[["content-type", "application/json"]],
                    created_at=AT,
                    claimed_at=AT,
                )
            )
        async with db.engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(IdempotencyKey)) == 3
    finally:
        await db.dispose()


async def test_the_upgrade_can_be_undone(database):
    await upgrade(database)
    db = Database(database)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), BEFORE))
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
    finally:
        await db.dispose()


# The table as migration 0016 left it.
OLD_SHAPE = table(
    "idempotency_keys",
    *(column(name, Uuid()) for name in ("id", "principal_id", "resource_id")),
    *(column(name, String()) for name in ("scope", "key", "fingerprint", "state")),
    column("attempt", Integer()),
    column("response_status", Integer()),
    column("response_body", JSON(none_as_null=True)),
    *(column(name, UTCDateTime()) for name in ("created_at", "claimed_at", "completed_at")),
)


def _old_row(key: str, **fields: object) -> dict[str, object]:
    row = {"id": uuid.uuid4(), "scope": "payments", "principal_id": uuid.UUID(int=1), "key": key, "attempt": 1}
    unset = dict.fromkeys(("resource_id", "response_status", "response_body", "completed_at"))
    return {**row, **unset, "fingerprint": "f" * 64, "created_at": AT, "claimed_at": AT, **fields}
