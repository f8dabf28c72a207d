"""Every table of every context, for Alembic and the schema tests. Contexts never import this."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import BLANK_SCHEMA, MetaData

from caremesh.contexts import CONTEXTS, WITHOUT_TABLES
from caremesh.platform import numbering as _numbering  # noqa: F401
from caremesh.platform.db import NAMING_CONVENTION, Base, SchemaMap, declared_schemas
from caremesh.platform.idempotency import models as _idempotency  # noqa: F401
from caremesh.platform.messaging.models import messaging_tables

for _name in (name for name in CONTEXTS if name not in WITHOUT_TABLES):
    # Every other context owns tables, and its own outbox, deliveries, inbox and dead letters.
    importlib.import_module(f"caremesh.{_name}.models")
    messaging_tables(_name)

metadata = Base.metadata
SCHEMAS = declared_schemas()  # every context's and `platform`


def physical_metadata(schemas: SchemaMap) -> MetaData:
    """The tables as they are named in one database (Alembic compares with this): each in its physical
    schema; on SQLite without schemas, each name once."""
    target = MetaData(naming_convention=NAMING_CONVENTION)
    for table in metadata.sorted_tables:
        if schemas[table.schema] is None and table.name in target.tables:
            continue  # SQLite: every schema's messaging tables are the one file's
        table.to_metadata(
            target,
            schema=schemas[table.schema],
            referred_schema_fn=lambda _table, _to, _fk, referred: schemas[referred] or BLANK_SCHEMA,
        )
    return target


def comparison(dialect: str, schemas: SchemaMap | None) -> dict[str, Any]:
    """Alembic's options to compare one database with the models (autogenerate, the schema test): the
    physical tables, looked for in this installation's schemas only."""
    schemas = schemas if isinstance(schemas, SchemaMap) else SchemaMap(dialect, None)
    ours = {schemas[name] for name in SCHEMAS}

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        # On PostgreSQL the default schema keeps only the version table (and sees others on the search path).
        return type_ != "schema" or name in ours or (name is None and dialect == "sqlite")

    return {
        "target_metadata": physical_metadata(schemas),
        "include_schemas": dialect == "postgresql",
        "include_name": include_name,
    }
