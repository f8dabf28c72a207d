"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from caremesh.models import metadata


async def test_migrated_schema_matches_the_models(env):
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with env.db.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
