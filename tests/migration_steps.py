"""What migration tests do to a throwaway installation between upgrades: downgrade it, look at a context's tables,
run SQL on a context's tables (by their plain name on SQLite, schema-qualified on PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import inspect, text

from caremesh.platform.db import Database, physical_schema
from caremesh.platform.migrate import alembic_config
from caremesh.platform.settings import DatabaseSettings


def table_name(settings: DatabaseSettings, context: str, table: str) -> str:
    """`table` of `context` as SQL names it on this database."""
    return table if settings.is_sqlite else f'"{physical_schema(context, settings.database_schema)}".{table}'


async def downgrade(settings: DatabaseSettings, revision: str) -> None:
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))
    finally:
        await db.dispose()


async def context_tables(settings: DatabaseSettings, context: str, among: set[str]) -> set[str]:
    """Which of `among` exist among `context`'s tables (on PostgreSQL: in its schema, if there is one)."""
    schema = None if settings.is_sqlite else physical_schema(context, settings.database_schema)
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:

            def names(sync: Any) -> set[str]:
                inspector = inspect(sync)
                if schema is not None and schema not in inspector.get_schema_names():
                    return set()
                return set(inspector.get_table_names(schema=schema)) & among

            return await connection.run_sync(names)
    finally:
        await db.dispose()


async def columns(settings: DatabaseSettings, context: str, table: str) -> set[str]:
    schema = None if settings.is_sqlite else physical_schema(context, settings.database_schema)
    db = Database(settings)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns(table, schema=schema)}
            )
    finally:
        await db.dispose()


async def execute(settings: DatabaseSettings, sql: str, **params: Any) -> list[Any]:
    """Run `sql` in a transaction of its own; its rows, if it returns any."""
    db = Database(settings)
    try:
        async with db.engine.begin() as connection:
            result = await connection.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await db.dispose()


async def scalars(settings: DatabaseSettings, sql: str, **params: Any) -> list[Any]:
    """The first column of what `sql` returns."""
    return [row[0] for row in await execute(settings, sql, **params)]


async def outbox_event_types(settings: DatabaseSettings) -> list[str]:
    """The types of the events in the platform's outbox, oldest first (a downgrade moves a context's there)."""
    return await scalars(settings, f"SELECT type FROM {table_name(settings, 'platform', 'outbox_events')} ORDER BY seq")
