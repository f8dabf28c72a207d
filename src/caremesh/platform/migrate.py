"""Alembic, driven from code: `caremesh migrate`, `caremesh serve` (embedded) and the tests call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

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
        if settings.database_schema and not settings.is_sqlite:
            async with engine.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"'))
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def current_revision(settings: DatabaseSettings) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = build_engine(settings)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()
