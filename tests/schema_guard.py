"""A pytest plugin that holds every statement of the suite to "contexts never join across schemas".

On PostgreSQL each context's tables live in its own schema. Every statement any engine sends is read
before it runs: one that names tables of two schemas (two contexts, or a context and the platform) is
refused (`CrossSchemaQuery`) and fails the test that sent it, even if the app turned the error into a 500.
Migrations are exempt: moving rows between schemas is what migration 0019 is for.
SQLite keeps one file without schemas, so there is nothing to read there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from caremesh.models import SCHEMAS, metadata
from caremesh.platform.db import SchemaMap, physical_schema


class CrossSchemaQuery(AssertionError):
    pass


@cache
def _tables() -> dict[str, frozenset[str]]:
    """Logical schema → the names of its tables."""
    found: dict[str, set[str]] = {}
    for table in metadata.tables.values():
        found.setdefault(table.schema or "", set()).add(table.name)
    return {schema: frozenset(names) for schema, names in found.items()}


@cache
def _pattern(prefix: str | None) -> tuple[re.Pattern[str], dict[str, str]]:
    logical = {physical_schema(name, prefix): name for name in SCHEMAS}
    names = "|".join(sorted((re.escape(name) for name in logical), key=len, reverse=True))
    # `<schema>.<table>` (either may be quoted), not the tail of a longer name nor a column of a table.
    return re.compile(rf'(?<![\w."])"?({names})"?\."?(\w+)"?'), logical


def schemas_named(statement: str, prefix: str | None) -> set[str]:
    """The logical schemas whose tables `statement` names, for an installation with this prefix
    (CAREMESH_DATABASE_SCHEMA)."""
    pattern, logical = _pattern(prefix)
    tables = _tables()
    return {
        logical[schema]
        for schema, table in pattern.findall(statement)
        if table in tables.get(logical[schema], frozenset())
    }


def check(statement: str, prefix: str | None) -> None:
    named = schemas_named(statement, prefix)
    if len(named) > 1:
        raise CrossSchemaQuery(f"a statement names tables of {sorted(named)}: {statement[:500]}")


refused: list[str] = []


@event.listens_for(Engine, "before_cursor_execute")
def _before_cursor_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    options = conn.get_execution_options()
    schemas = options.get("schema_translate_map")
    if conn.dialect.name != "postgresql" or not isinstance(schemas, SchemaMap) or options.get("caremesh_migration"):
        return  # migrations move rows between schemas on purpose
    try:
        check(statement, schemas.prefix)
    except CrossSchemaQuery as error:
        refused.append(str(error))
        raise


@pytest.fixture(autouse=True)
def _no_cross_schema_query() -> Iterator[None]:
    refused.clear()
    yield
    assert not refused, refused[0]
