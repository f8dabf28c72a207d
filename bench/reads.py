"""Authenticated reads per second through the HTTP API, against the same reads straight through the driver.

- by id: `GET /api/v1/patients/{id}` for random patients, BENCH_CLIENTS concurrent clients with a bearer token
  (every request authenticates its principal and appends a read to the audit trail);
- list: `GET /api/v1/patients?limit=20`, the first page (each listed record is audited too);
- baseline, in the same run: `SELECT` of one patient by id and the same page query (`deleted_at IS NULL ORDER BY
  created_at, id LIMIT 21`) through asyncpg or aiosqlite with as many connections as clients, each in its own
  transaction.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
from collections.abc import Awaitable, Callable
from datetime import date

import asyncpg
import httpx

from bench.booking import on_each_backend, percentile, run_concurrently, spread
from bench.server import Backend, Server, admin_session, print_table, running_server
from caremesh.platform.db import physical_schema

READS = int(os.environ.get("BENCH_READS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PATIENTS = 200
PAGE = 20

BY_ID_SQL = "SELECT * FROM patients WHERE id = {} AND deleted_at IS NULL"
LIST_SQL = f"SELECT * FROM patients WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT {PAGE + 1}"


async def register(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    async def patient(index: int) -> str:
        body = {"first_name": "Bench", "last_name": f"Reader{index}", "date_of_birth": "1980-01-01", "gender": "other"}
        response = await client.post("/api/v1/patients", json=body, headers=headers)
        response.raise_for_status()
        return response.json()["id"]

    return [await patient(i) for i in range(PATIENTS)]


async def api_round(
    client: httpx.AsyncClient, headers: dict[str, str], paths: list[str], server: Server | None = None
) -> tuple[float, list[float], float]:
    """Elapsed seconds, each request's latency, and the server's CPU milliseconds per request."""
    failures: list[str] = []
    cpu = server.cpu_seconds() if server else 0.0

    def read(path: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            response = await client.get(path, headers=headers)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")

        return run

    elapsed, latencies = await run_concurrently([read(path) for path in paths], CLIENTS)
    if failures:
        raise RuntimeError(f"{len(failures)} reads failed, e.g. {failures[0]}")
    cpu_ms = (server.cpu_seconds() - cpu) * 1000 / len(paths) if server else 0.0
    return elapsed, latencies, cpu_ms


async def driver_round(backend: Backend, ids: list[str] | None) -> float:
    """`ids`: read each patient by id; None: read the first page READS times."""
    if backend.db.is_sqlite:
        return await _sqlite(backend, ids)
    return await _postgres(backend, ids)


async def _postgres(backend: Backend, ids: list[str] | None) -> float:
    dsn = backend.db.database_url.replace("postgresql+asyncpg", "postgresql")
    path = physical_schema("patients", backend.db.database_schema)
    pool = await asyncpg.create_pool(dsn, min_size=CLIENTS, max_size=CLIENTS, server_settings={"search_path": path})
    by_id = BY_ID_SQL.format("$1")

    def read(ident: str | None) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with pool.acquire() as connection, connection.transaction():
                if ident is None:
                    await connection.fetch(LIST_SQL)
                else:
                    await connection.fetch(by_id, ident)

        return run

    jobs = [read(ident) for ident in ids] if ids else [read(None) for _ in range(READS)]
    elapsed, _ = await run_concurrently(jobs, CLIENTS)
    await pool.close()
    return elapsed


async def _sqlite(backend: Backend, ids: list[str] | None) -> float:
    import uuid

    import aiosqlite

    path = backend.db.database_url.split("///", 1)[1]
    pool: asyncio.Queue = asyncio.Queue()
    connections = [await aiosqlite.connect(path, timeout=30, isolation_level=None) for _ in range(CLIENTS)]
    for connection in connections:
        pool.put_nowait(connection)
    by_id = BY_ID_SQL.format("?")

    def read(ident: str | None) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            connection = await pool.get()
            try:
                await connection.execute("BEGIN")
                if ident is None:
                    rows = await connection.execute_fetchall(LIST_SQL)
                else:
                    rows = await connection.execute_fetchall(by_id, (uuid.UUID(ident).hex,))
                await connection.execute("COMMIT")
                assert rows
            finally:
                pool.put_nowait(connection)

        return run

    jobs = [read(ident) for ident in ids] if ids else [read(None) for _ in range(READS)]
    elapsed, _ = await run_concurrently(jobs, CLIENTS)
    for connection in connections:
        await connection.close()
    return elapsed


async def measure(backend: Backend, _: date) -> str:
    rates: dict[str, list[float]] = {"api id": [], "driver id": [], "api list": [], "driver list": []}
    latencies: dict[str, list[float]] = {"id": [], "list": []}
    cpu: dict[str, list[float]] = {"id": [], "list": []}
    async with running_server(backend.db) as server, admin_session(server, CLIENTS) as (client, headers):
        patients = await register(client, headers)
        for _round in range(ROUNDS):
            ids = [random.choice(patients) for _ in range(READS)]
            elapsed, took, cpu_ms = await api_round(client, headers, [f"/api/v1/patients/{i}" for i in ids], server)
            rates["api id"].append(READS / elapsed)
            latencies["id"].extend(took)
            cpu["id"].append(cpu_ms)
            rates["driver id"].append(READS / await driver_round(backend, ids))
            pages = [f"/api/v1/patients?limit={PAGE}"] * READS
            elapsed, took, cpu_ms = await api_round(client, headers, pages, server)
            rates["api list"].append(READS / elapsed)
            latencies["list"].extend(took)
            cpu["list"].append(cpu_ms)
            rates["driver list"].append(READS / await driver_round(backend, None))
    cells = [backend.name.ljust(10)]
    for kind in ("id", "list"):
        ratio = statistics.median(rates[f"api {kind}"]) / statistics.median(rates[f"driver {kind}"])
        cells += [
            f"{spread(rates[f'api {kind}']):>17}",
            f"{percentile(latencies[kind], 50) * 1000:>7.1f}",
            f"{percentile(latencies[kind], 99) * 1000:>7.1f}",
            f"{statistics.median(cpu[kind]):>7.2f}",
            f"{spread(rates[f'driver {kind}']):>17}",
            f"{ratio:>9.3f}",
        ]
    return " ".join(cells)


async def main() -> None:
    print(
        f"\nreads benchmark: {ROUNDS} rounds of {READS} authenticated GET /patients/{{id}} and {READS} GET "
        f"/patients?limit={PAGE}, {CLIENTS} concurrent clients, {os.cpu_count()} CPUs; rates are medians (min-max)"
    )
    rows = await on_each_backend(measure)
    columns = (
        ("by id reads/s", 17),
        ("p50 ms", 7),
        ("p99 ms", 7),
        ("CPU ms", 7),
        ("driver by id/s", 17),
        ("api/drv", 9),
        ("list reads/s", 17),
        ("p50 ms", 7),
        ("p99 ms", 7),
        ("CPU ms", 7),
        ("driver list/s", 17),
        ("api/drv", 9),
    )
    print_table(columns, rows)
    print(
        "driver: the same SELECTs through asyncpg / aiosqlite, one transaction each, as many connections as clients;\n"
        "the API reads also authenticate the bearer token and audit every patient record they return;\n"
        "CPU ms: the server processes' CPU time per request (median over rounds), which other load hardly moves"
    )
