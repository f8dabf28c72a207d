"""Alembic environment. Migrations run on a connection handed over by `caremesh.platform.migrate`."""

from __future__ import annotations

import asyncio

from alembic import context

from caremesh.models import comparison
from caremesh.platform.db import build_engine
from caremesh.platform.settings import DatabaseSettings

config = context.config


def run_on(connection) -> None:
    # Compared (autogenerate) as the tables are named in this database: each context's in its schema.
    schemas = connection.get_execution_options().get("schema_translate_map")
    # Marks this connection's statements as a migration's: they may move rows between schemas (0019 does).
    connection.execution_options(caremesh_migration=True)
    context.configure(
        connection=connection,
        compare_type=True,
        **comparison(connection.dialect.name, schemas),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = build_engine(DatabaseSettings())
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `caremesh migrate`")
elif config.attributes.get("connection") is not None:
    run_on(config.attributes["connection"])
else:
    asyncio.run(run_standalone())
