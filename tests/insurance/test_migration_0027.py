"""Migration 0027 (versions, dated benefit terms, agents, premiums and commissions) downgrades and upgrades on SQLite
and PostgreSQL keeping payers, schemes, benefits and coverages: a benefit goes back to one set of terms (its latest)
and comes back with them as its first terms; the terms' CHECK constraints hold after SQLite's rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.builders.insurance import (
    SCHEMES,
    add_benefit,
    add_rate,
    make_agent,
    make_coverage,
    make_scheme,
    patch,
    run_premiums,
)
from tests.harness import revision_before, running_env, settings_for_tests, throwaway_installation
from tests.migration_steps import downgrade

BEFORE = revision_before("0027_insurance_edits_premiums")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[DatabaseSettings]:
    with throwaway_installation(tmp_path, "ins") as settings:
        yield settings


def _table(settings: DatabaseSettings, name: str) -> str:
    return name if settings.is_sqlite else f'"{physical_schema("insurance", settings.database_schema)}".{name}'


async def _query(settings: DatabaseSettings, sql: str) -> list[tuple]:
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            tables = ("benefits", "benefit_terms", "coverages", "payers", "schemes")
            named = sql.format(**{t: _table(settings, f"insurance_{t}") for t in tables})
            return [tuple(row) for row in (await connection.execute(text(named))).all()]
    finally:
        await db.dispose()


async def _refuses(settings: DatabaseSettings, sql: str) -> bool:
    try:
        await _query(settings, sql)
    except IntegrityError:
        return True
    return False


async def test_0027_keeps_insurance_data_both_ways(database, tmp_path):
    await upgrade(database)
    settings = settings_for_tests(database, tmp_path)
    async with running_env(settings) as env:
        scheme = await make_scheme(env)
        await add_rate(env, scheme, 0, None, "250.00")
        benefit = await add_benefit(env, scheme, coverage_percent="80.00", copay_amount="5.00")
        url = f"{SCHEMES}/{scheme['id']}/benefits/{benefit['id']}"
        changed = await patch(env, url, {"effective_from": "2030-06-01", "copay_amount": "7.50"}, version=1)
        assert changed.status_code == 200, changed.text
        await make_coverage(env, scheme=scheme, agent_id=(await make_agent(env))["id"])
        assert (await run_premiums(env, "2030-02"))["issued"] == 1
    counts = (
        "SELECT (SELECT count(*) FROM {payers}), (SELECT count(*) FROM {schemes}), (SELECT count(*) FROM {coverages})"
    )
    assert await _query(database, counts) == [(1, 1, 1)]

    await downgrade(database, BEFORE)
    assert await _query(database, counts) == [(1, 1, 1)]
    terms = "SELECT coverage_percent, copay_amount, deductible, annual_limit FROM {benefits}"
    assert [tuple(str(v) for v in row) for row in await _query(database, terms)] == [("80.00", "7.50", "0.00", "None")]
    assert await _refuses(database, "UPDATE {benefits} SET copay_amount = '-1'")  # the CHECK is back

    await upgrade(database)
    assert await _query(database, counts) == [(1, 1, 1)]
    history = "SELECT effective_from, coverage_percent, copay_amount FROM {benefit_terms}"
    assert [tuple(str(v) for v in row) for row in await _query(database, history)] == [("2030-01-07", "80.00", "7.50")]
    assert await _refuses(database, "UPDATE {benefit_terms} SET copay_amount = '-1'")
    assert await _query(database, "SELECT version FROM {benefits}") == [(1,)]
    async with running_env(settings) as env:  # the upgraded rows work through the API
        read = await env.client.get(url, headers=env.admin)
        assert (read.status_code, read.json()["copay_amount"], read.json()["effective_from"]) == (
            200,
            "7.50",
            "2030-01-07",
        )
