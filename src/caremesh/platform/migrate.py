"""Alembic, driven from code: `caremesh migrate`, `caremesh serve` (embedded) and the tests call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from caremesh.platform.db import build_engine
from caremesh.platform.settings import DatabaseSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(settings: DatabaseSettings, revision: str = "head") -> None:
    engine = build_engine(settings)
    try:
        async with engine.connect() as connection:
            if not settings.is_sqlite:
                # Processes migrating at once take turns, the later ones finding the work done (SQLite's BEGIN
                # IMMEDIATE serialises them already). Held by this connection until it closes below.
                key = f"caremesh.migrate:{settings.database_schema or ''}"
                await connection.execute(text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"), {"key": key})
                if settings.database_schema:
                    await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"'))
                await connection.commit()
            async with connection.begin():
                await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def current_revision(settings: DatabaseSettings) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = build_engine(settings)
    options = {"version_table_schema": settings.database_schema} if settings.database_schema else {}
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync, opts=options).get_current_revision()
            )
    finally:
        await engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def sqlite_file(settings: DatabaseSettings) -> Path | None:
    """The file of a SQLite database URL; None for an in-memory one."""
    database = make_url(settings.database_url).database
    return Path(database) if database and database != ":memory:" and not database.startswith("file:") else None


class SchemaNotReady(Exception):
    """The database cannot serve this caremesh yet; the message says in one line what to do."""


async def require_schema(settings: DatabaseSettings) -> None:
    """Refuse, without creating anything, a database that is missing, not migrated or behind this code."""
    fix = "run `caremesh migrate` first (with the same CAREMESH_DATABASE_URL)"
    path = sqlite_file(settings) if settings.is_sqlite else None
    if path is not None and not path.exists():
        raise SchemaNotReady(f"no database at {path.resolve()}: {fix}")
    try:
        current = await current_revision(settings)
    except (OSError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise SchemaNotReady(f"cannot open the database: {reason}") from error
    head = head_revision()
    if current is None:
        raise SchemaNotReady(f"the database has no caremesh tables yet: {fix}")
    if current != head:
        known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if current not in known:
            raise SchemaNotReady(f"the database is at migration {current}, newer than this caremesh ({head})")
        raise SchemaNotReady(f"the database is at migration {current}, this caremesh needs {head}: {fix}")
