"""A flow's raw-driver baseline of the same writes: the rows the API wrote in a round (a parent row and its child
rows), read back, given new ids and fresh values for their unique columns, and inserted again straight through
asyncpg or aiosqlite, each parent with its children in one committed transaction, with as many connections as
clients (SQLite: one, its one writer). What the API adds on top (authentication, validation, events, audit,
numbering) is the difference."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.booking import SQLITE_WRITERS, run_concurrently
from bench.server import Backend
from caremesh.platform.db import physical_schema

Fresh = Callable[[int], Any]  # a new value for a unique column, from the copy's index
serial = itertools.count(1)  # for fresh numbers, unique over a whole run


@dataclass(frozen=True)
class Rows:
    """`table` of `context` and, in the same transaction, its `children` tables (each joined by a column naming
    the parent's id); `fresh` columns of the parent get new values (numbers, keys that must stay unique)."""

    context: str
    table: str
    children: tuple[tuple[str, str], ...] = ()
    fresh: dict[str, Fresh] = field(default_factory=dict)


async def copy_rows(backend: Backend, rows: Rows, ids: Sequence[str], clients: int) -> float:
    """Seconds to insert copies of the rows with these parent ids (see the module)."""
    if backend.db.is_sqlite:
        return await _sqlite(backend, rows, ids, clients)
    return await _postgres(backend, rows, ids, clients)


def _insert(table: str, columns: Sequence[str], placeholder: Callable[[int], str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(placeholder(i) for i in range(len(columns)))})'


def _copy(
    index: int, parent: dict[str, Any], children: list[tuple[str, dict[str, Any]]], rows: Rows
) -> list[tuple[str, dict[str, Any]]]:
    """The statements of one copy; new ids for the parent and every child that has its own."""
    new_id = uuid.uuid4()
    copy = {**parent, "id": new_id, **{c: fresh(index) for c, fresh in rows.fresh.items()}}
    statements = [(rows.table, copy)]
    for table, row in children:
        link = dict(rows.children)[table]
        statements.append((table, {**row, link: new_id, **({"id": uuid.uuid4()} if "id" in row else {})}))
    return statements


async def _postgres(backend: Backend, rows: Rows, ids: Sequence[str], clients: int) -> float:
    dsn = backend.db.database_url.replace("postgresql+asyncpg", "postgresql")
    path = physical_schema(rows.context, backend.db.database_schema)
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients, server_settings={"search_path": path})
    wanted = [uuid.UUID(i) for i in ids]
    async with pool.acquire() as connection:
        parents = await connection.fetch(f'SELECT * FROM "{rows.table}" WHERE id = ANY($1::uuid[])', wanted)
        kids: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
        for table, link in rows.children:
            for row in await connection.fetch(f'SELECT * FROM "{table}" WHERE "{link}" = ANY($1::uuid[])', wanted):
                kids.setdefault(row[link], []).append((table, dict(row)))
    copies = [_copy(index, dict(parent), kids.get(parent["id"], []), rows) for index, parent in enumerate(parents)]

    def insert(statements: list[tuple[str, dict[str, Any]]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with pool.acquire() as connection, connection.transaction():
                for table, row in statements:
                    await connection.execute(_insert(table, list(row), lambda i: f"${i + 1}"), *row.values())

        return run

    elapsed, _ = await run_concurrently([insert(c) for c in copies], clients)
    await pool.close()
    return elapsed


async def _sqlite(backend: Backend, rows: Rows, ids: Sequence[str], clients: int) -> float:
    import aiosqlite

    path = backend.db.database_url.split("///", 1)[1]
    connections = [await aiosqlite.connect(path, timeout=30, isolation_level=None) for _ in range(SQLITE_WRITERS)]
    for connection in connections:
        await connection.execute("PRAGMA busy_timeout=30000")
        await connection.execute("PRAGMA synchronous=NORMAL")
    wanted = [uuid.UUID(i).hex for i in ids]
    marks = ", ".join("?" for _ in wanted)

    async def fetch(sql: str) -> list[dict[str, Any]]:
        cursor = await connections[0].execute(sql, wanted)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]

    parents = await fetch(f'SELECT * FROM "{rows.table}" WHERE id IN ({marks})')
    kids: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
    for table, link in rows.children:
        for row in await fetch(f'SELECT * FROM "{table}" WHERE "{link}" IN ({marks})'):
            kids.setdefault(row[link], []).append((table, row))
    copies = [_copy(index, parent, kids.get(parent["id"], []), rows) for index, parent in enumerate(parents)]
    pool: asyncio.Queue = asyncio.Queue()
    for connection in connections:
        pool.put_nowait(connection)

    def insert(statements: list[tuple[str, dict[str, Any]]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            connection = await pool.get()
            try:
                await connection.execute("BEGIN IMMEDIATE")
                for table, row in statements:
                    values = tuple(v.hex if isinstance(v, uuid.UUID) else v for v in row.values())  # SQLite's form
                    await connection.execute(_insert(table, list(row), lambda _: "?"), values)
                await connection.execute("COMMIT")
            finally:
                pool.put_nowait(connection)

        return run

    elapsed, _ = await run_concurrently([insert(c) for c in copies], clients)
    for connection in connections:
        await connection.close()
    return elapsed
