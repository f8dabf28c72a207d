"""Migration 0020 in place, with data, on SQLite and PostgreSQL: a chain 0019 sealed stays valid and keeps its
hashes; the sealer carries it on; the downgrade seals what is unsealed and leaves 0019's chain, valid, behind."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Integer, String, Uuid, column, insert, select, table, update

from caremesh.audit.domain import GENESIS_HASH, event_digest
from caremesh.platform.db import Database, UTCDateTime, physical_schema
from caremesh.platform.migrate import alembic_config, upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.patients import make_patient
from tests.harness import T0, running_env, settings_for_tests, throwaway_installation

BEFORE = "0019_schema_per_context"
RECORDED = ("id", "at", "actor_id", "action", "entity_type", "entity_id", "request_id", "ip")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "seal") as settings:
        yield settings


def old_tables(settings: DatabaseSettings) -> tuple[table, table]:
    """audit_events and audit_chain_head as 0019 left them, by their physical names."""
    schema = None if settings.is_sqlite else physical_schema("audit", settings.database_schema)
    events = table(
        "audit_events",
        column("seq", Integer()),
        column("id", Uuid()),
        column("at", UTCDateTime()),
        column("actor_id", Uuid()),
        *(column(name, String()) for name in ("action", "entity_type", "entity_id", "request_id", "ip")),
        column("prev_hash", String()),
        column("hash", String()),
        schema=schema,
    )
    head = table(
        "audit_chain_head",
        column("id", Integer()),
        column("last_seq", Integer()),
        column("last_hash", String()),
        schema=schema,
    )
    return events, head


def old_chain(length: int) -> list[dict]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, length + 1):
        fields = {
            "id": uuid.uuid4(),
            "at": T0 - timedelta(days=1, seconds=-seq),
            "actor_id": uuid.uuid4(),
            "action": "patient.read",
            "entity_type": "patient",
            "entity_id": str(uuid.uuid4()),
            "request_id": f"req-{seq}",
            "ip": "10.0.0.1",
        }
        digest = event_digest(prev, seq=seq, **fields)
        rows.append({"seq": seq, **fields, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


async def verify(env) -> dict:
    response = await env.client.get("/api/v1/audit-events/verify", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_sealed_chain_survives_the_upgrade_and_the_downgrade(database, tmp_path):
    await upgrade(database, BEFORE)
    events, head = old_tables(database)
    chain = old_chain(5)
    db = Database(database)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(insert(events), chain)
            await connection.execute(update(head).values(last_seq=5, last_hash=chain[-1]["hash"]))
    finally:
        await db.dispose()

    await upgrade(database)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:  # its start recorded the admin's creation and login: unsealed
        result = await verify(env)
        assert (result["valid"], result["count"], result["unsealed"]) == (True, 5, 2)
        kept = (await env.client.get("/api/v1/audit-events", params={"limit": 5}, headers=env.admin)).json()
        assert [(e["seq"], e["id"], e["hash"]) for e in kept["items"]] == [
            (row["seq"], str(row["id"]), row["hash"]) for row in chain
        ]
        await env.drain()
        await make_patient(env)  # unsealed when the downgrade comes
        assert await verify(env) == {"valid": True, "count": 7, "first_broken_id": None, "unsealed": 1}

    db = Database(database)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), BEFORE))
        async with db.engine.connect() as connection:
            rows = (await connection.execute(select(events).order_by(events.c.seq))).all()
            last_seq, last_hash = (await connection.execute(select(head.c.last_seq, head.c.last_hash))).one()
    finally:
        await db.dispose()
    assert [row.seq for row in rows] == list(range(1, 9))  # the downgrade sealed the last one
    assert [row.hash for row in rows[:5]] == [row["hash"] for row in chain]
    prev = GENESIS_HASH
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == event_digest(prev, seq=row.seq, **{name: getattr(row, name) for name in RECORDED})
        prev = row.hash
    assert (last_seq, last_hash) == (8, prev)

    await upgrade(database)
    async with running_env(settings) as env:
        assert await verify(env) == {"valid": True, "count": 8, "first_broken_id": None, "unsealed": 1}  # a login
        await env.drain()
        assert (await verify(env))["unsealed"] == 0


def test_the_chain_rule_is_the_same_in_the_migration():
    """0020's downgrade seals with its own copy of the rule, fixed at that revision: it must agree with today's."""
    migration = importlib.import_module("caremesh.migrations.versions.0020_audit_sealer")
    [row] = old_chain(1)
    fields = {name: row[name] for name in RECORDED}
    stored = type("Row", (), fields)

    assert migration._digest(GENESIS_HASH, 1, stored) == row["hash"]
    assert migration.RECORDED == RECORDED
