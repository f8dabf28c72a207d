"""Commands that need the schema refuse a missing, empty or older database in one line, exit 1 and create
nothing; `caremesh migrate` is what they tell you to run, and afterwards they work."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import text
from typer.testing import CliRunner

from caremesh.cli import cli
from caremesh.platform.db import Database
from caremesh.platform.migrate import head_revision, upgrade
from caremesh.platform.settings import DatabaseSettings
from tests.harness import POSTGRES_URL, drop_schemas

NEEDS_THE_SCHEMA = [
    ["serve", "--no-migrate"],
    ["relay"],
    ["users", "create-admin", "--email", "ops@example.org", "--password", "a-strong-shell-pass-7"],
    ["dead-letters", "list"],
    ["dead-letters", "replay", "--all"],
    ["events", "prune"],
]
OLDER = "0016_claims"


@pytest.fixture(autouse=True)
def no_server(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the server must not start on this database")

    monkeypatch.setattr(uvicorn, "run", refuse)


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_refused(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, line


@pytest.fixture
def elsewhere(monkeypatch, tmp_path) -> Path:
    """An empty folder outside the project, with the default database URL (a relative `caremesh.db`)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("CAREMESH_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAREMESH_DATABASE_SCHEMA", raising=False)
    return folder


@pytest.mark.parametrize("args", NEEDS_THE_SCHEMA, ids=lambda a: " ".join(a[:2]))
def test_outside_the_project_a_command_says_what_to_run_and_creates_no_file(elsewhere, args):
    result = run(*args)

    assert_refused(result, "no database at", str(elsewhere / "caremesh.db"), "caremesh migrate")
    assert list(elsewhere.iterdir()) == []


def test_an_empty_sqlite_file_is_not_migrated(elsewhere):
    (elsewhere / "caremesh.db").touch()
    assert_refused(run("dead-letters", "list"), "no caremesh tables", "caremesh migrate")


def test_a_database_behind_the_code_names_both_migrations_then_migrate_fixes_it(elsewhere):
    asyncio.run(upgrade(DatabaseSettings(database_url="sqlite+aiosqlite:///caremesh.db"), OLDER))

    assert_refused(run("events", "prune"), OLDER, head_revision(), "caremesh migrate")
    migrated = run("migrate")
    assert migrated.exit_code == 0, migrated.output
    listed = run("dead-letters", "list")
    assert (listed.exit_code, listed.stdout.strip()) == (0, "no dead letters")


def test_serve_on_sqlite_migrates_by_default_and_says_where(elsewhere, monkeypatch):
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.append(kwargs["port"]))

    result = run("serve", "--port", "8999")

    assert result.exit_code == 0, result.output
    assert f"creating a new database at {elsewhere / 'caremesh.db'}" in result.stdout
    assert started == [8999]


@pytest.fixture
def empty_pg_schema(monkeypatch, tmp_path):
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set CAREMESH_TEST_DATABASE_URL")
    schema = f"cm_cli_{uuid.uuid4().hex[:8]}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAREMESH_DATABASE_URL", POSTGRES_URL)
    monkeypatch.setenv("CAREMESH_DATABASE_SCHEMA", schema)
    yield DatabaseSettings(database_url=POSTGRES_URL, database_schema=schema)
    drop_schemas(schema)


async def schema_exists(name: str) -> bool:
    db = Database(DatabaseSettings(database_url=POSTGRES_URL))
    try:
        async with db.engine.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"), {"name": name}
            )
            return found.first() is not None
    finally:
        await db.dispose()


@pytest.mark.parametrize("args", [["serve"], *NEEDS_THE_SCHEMA[1:]], ids=lambda a: " ".join(a[:2]))
def test_postgres_unmigrated_is_one_line_and_creates_nothing(empty_pg_schema, tmp_path, args):
    result = run(*args)

    assert_refused(result, "no caremesh tables", "caremesh migrate")
    assert not asyncio.run(schema_exists(empty_pg_schema.database_schema))
    assert list(tmp_path.iterdir()) == []


def test_postgres_behind_then_migrated(empty_pg_schema):
    asyncio.run(upgrade(empty_pg_schema, OLDER))

    assert_refused(run("serve"), OLDER, head_revision(), "caremesh migrate")
    assert run("migrate").exit_code == 0
    listed = run("dead-letters", "list")
    assert (listed.exit_code, listed.stdout.strip()) == (0, "no dead letters")
