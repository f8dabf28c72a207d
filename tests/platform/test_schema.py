"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from caremesh.models import comparison


async def test_migrated_schema_matches_the_models(env):
    def differences(connection):
        options = comparison(connection.dialect.name, connection.get_execution_options()["schema_translate_map"])
        target = options.pop("target_metadata")
        context = MigrationContext.configure(connection, opts={"compare_type": True, **options})
        return compare_metadata(context, target)

    async with env.db.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []
