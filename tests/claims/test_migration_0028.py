"""Migration 0028 (withdrawn claims, dispute attachments) upgrades and downgrades on SQLite and PostgreSQL keeping
every claim, line, history entry and dispute, and the claim's checks stay the database's (SQLite rebuilds the
table: its other CHECK constraints must come through)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.claims import dispute, insured_invoice, make_claim, ok, rejected_claim
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import downgrade

BEFORE = revision_before("0028_claims_attachments")
TABLES = ("claims", "claim_lines", "claim_history", "claim_disputes")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "clm") as settings:
        yield settings


def _table(settings: DatabaseSettings, name: str) -> str:
    return name if settings.is_sqlite else f'"{physical_schema("claims", settings.database_schema)}".{name}'


async def _counts(settings: DatabaseSettings) -> list[int]:
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            return [await connection.scalar(text(f"SELECT count(*) FROM {_table(settings, t)}")) for t in TABLES]
    finally:
        await db.dispose()


async def _refuses(settings: DatabaseSettings, statement: str) -> bool:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text(statement.format(claims=_table(settings, "claims"))))
    except IntegrityError:
        return True
    finally:
        await db.dispose()
    return False


async def test_0028_keeps_claims_and_their_rows_and_checks_both_ways(database, tmp_path):
    await upgrade(database)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        _, draft_bill = await insured_invoice(env)
        draft = await make_claim(env, draft_bill)
        _, bill = await insured_invoice(env)
        ok(await dispute(env, await rejected_claim(env, bill)), 201)
    kept = await _counts(database)
    assert kept == [2, 2, 4, 1]  # two claims of one line; created, created-submitted-rejected; one dispute

    await downgrade(database, BEFORE)
    assert await _counts(database) == kept
    assert await _refuses(database, "UPDATE {claims} SET status = 'withdrawn'")  # not a status before 0028
    assert await _refuses(database, "UPDATE {claims} SET claimed_amount = '0.00'")  # claimed_positive came through

    await upgrade(database)
    assert await _counts(database) == kept
    assert await _refuses(database, "UPDATE {claims} SET claimed_amount = '0.00'")
    async with running_env(settings) as env:
        withdrawn = await env.client.post(f"/api/v1/claims/{draft['id']}/withdraw", headers=env.admin)
        assert ok(withdrawn)["status"] == "withdrawn"
        again = await make_claim(env, draft_bill)  # the partial index leaves withdrawn claims out
        assert again["status"] == "draft"

    with pytest.raises(RuntimeError, match="withdrawn"):
        await downgrade(database, BEFORE)
    assert await _counts(database) == [3, 3, 6, 1]
