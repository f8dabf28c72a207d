"""What this machine's HTTP stack allows at all: the same load generator against the smallest servers that answer a
read like caremesh does, beside caremesh's own authenticated read, in one run (PostgreSQL).

Rows, each a separate `uvicorn` process with uvloop and httptools, as `caremesh serve` runs:
- `asgi`: a bare ASGI callable answering fixed JSON bytes (no framework, no database);
- `fastapi`: one FastAPI route answering a declared pydantic model (no database);
- `fastapi + asyncpg`: the same route reading one row by id through an asyncpg pool, in a transaction;
- `fastapi + sqlalchemy`: the same row through an AsyncSession and a prebuilt statement;
- `caremesh`: `GET /api/v1/patients/{id}` with a bearer token (authenticate, read, audit, commit), as `reads`;
- `driver`: the row read straight through asyncpg, no HTTP.
Each prints requests/s (median over rounds, min-max), p50/p99, the server's CPU ms per request, and the load
generator's own CPU ms per request: on a small machine the client's share of the cores bounds every row.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from bench import lean
from bench.booking import drop_schema, percentile, run_concurrently, spread
from bench.reads import register
from bench.server import POSTGRES_URL, _free_port, admin_session, own_schema, process_tree_cpu_seconds, running_server
from bench.server import backends as bench_backends

READS = int(os.environ.get("BENCH_READS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ROWS = 200
APPS = (
    ("asgi", "asgi"),
    ("fastapi", "fastapi"),
    ("fastapi + asyncpg", "asyncpg"),
    ("fastapi + sqlalchemy", "sqlalchemy"),
)


def _dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


async def _load(
    client: httpx.AsyncClient, paths: list[str], headers: dict[str, str], server_pid: int
) -> tuple[float, list[float], float, float]:
    """Elapsed seconds, latencies, server CPU ms and load generator CPU ms per request."""
    failures: list[str] = []

    def read(path: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            response = await client.get(path, headers=headers)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")

        return run

    server_cpu, client_cpu = process_tree_cpu_seconds(server_pid), time.process_time()
    elapsed, latencies = await run_concurrently([read(path) for path in paths], CLIENTS)
    if failures:
        raise RuntimeError(f"{len(failures)} reads failed, e.g. {failures[0]}")
    server_ms = (process_tree_cpu_seconds(server_pid) - server_cpu) * 1000 / len(paths)
    client_ms = (time.process_time() - client_cpu) * 1000 / len(paths)
    return elapsed, latencies, server_ms, client_ms


def _row(name: str, results: list[tuple[float, list[float], float, float]]) -> str:
    rates = [READS / elapsed for elapsed, *_ in results]
    latencies = [latency for _, took, *_ in results for latency in took]
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    server_ms, client_ms = statistics.median(r[2] for r in results), statistics.median(r[3] for r in results)
    return f"{name:<22} {spread(rates):>17} {p50:>7.1f} {p99:>7.1f} {server_ms:>10.2f} {client_ms:>10.2f}"


async def _minimal(name: str, kind: str, table: str, ids: list[uuid.UUID]) -> str:
    port = _free_port()
    env = {**os.environ, "CEILING_APP": kind, "CEILING_TABLE": table, "CEILING_DSN": _dsn()}
    env["CEILING_POOL"] = str(CLIENTS)
    command = ["-m", "uvicorn", "bench.ceiling_app:app", "--factory", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"]
    process = await asyncio.create_subprocess_exec(sys.executable, *command, env=env)
    try:
        async with lean.client(f"http://127.0.0.1:{port}", CLIENTS) as client:
            for _ in range(300):
                try:
                    if (await client.get(f"/patients/{ids[0]}")).status_code == 200:
                        break
                except (httpx.TransportError, OSError):
                    await asyncio.sleep(0.1)
            results = []
            for _round in range(ROUNDS):
                paths = [f"/patients/{random.choice(ids)}" for _ in range(READS)]
                results.append(await _load(client, paths, {}, process.pid))
        return _row(name, results)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=20)


async def _caremesh() -> str:
    import tempfile
    from pathlib import Path

    backend = own_schema(next(b for b in bench_backends(Path(tempfile.mkdtemp())) if b.name == "postgres"), "ceiling")
    async with running_server(backend.db) as server, admin_session(server, CLIENTS) as (client, headers):
        patients = await register(client, headers)
        results = []
        for _round in range(ROUNDS):
            paths = [f"/api/v1/patients/{random.choice(patients)}" for _ in range(READS)]
            results.append(await _load(client, paths, headers, server.pid or 0))
    await drop_schema(backend)
    return _row("caremesh (auth + audit)", results)


async def _driver(table: str, ids: list[uuid.UUID]) -> str:
    pool = await asyncpg.create_pool(_dsn(), min_size=CLIENTS, max_size=CLIENTS)
    query = f"SELECT id, first_name, last_name, date_of_birth FROM {table} WHERE id = $1"

    def read(ident: uuid.UUID) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with pool.acquire() as connection, connection.transaction():
                await connection.fetchrow(query, ident)

        return run

    results = []
    for _round in range(ROUNDS):
        client_cpu = time.process_time()
        elapsed, latencies = await run_concurrently([read(random.choice(ids)) for _ in range(READS)], CLIENTS)
        results.append((elapsed, latencies, 0.0, (time.process_time() - client_cpu) * 1000 / READS))
    await pool.close()
    return _row("driver (no HTTP)", results)


async def main() -> None:
    print(
        f"\nceiling benchmark (PostgreSQL): {ROUNDS} rounds of {READS} GETs of one patient by id, {CLIENTS} concurrent "
        f"clients, {os.cpu_count()} CPUs; rates are medians (min-max)"
    )
    table = f"ceiling_patients_{os.getpid()}"
    connection = await asyncpg.connect(_dsn())
    ids = [uuid.uuid4() for _ in range(ROWS)]
    try:
        await connection.execute(
            f"CREATE TABLE {table} (id uuid PRIMARY KEY, first_name varchar(100), last_name varchar(100),"
            " date_of_birth date)"
        )
        await connection.executemany(
            f"INSERT INTO {table} VALUES ($1, 'Bench', 'Reader', DATE '1980-01-01')", [(i,) for i in ids]
        )
        rows = [await _minimal(name, kind, table, ids) for name, kind in APPS]
        rows.append(await _caremesh())
        rows.append(await _driver(table, ids))
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()
    columns = (("reads/s", 17), ("p50 ms", 7), ("p99 ms", 7), ("server CPU", 10), ("client CPU", 10))
    print(f"{'server':<22} " + " ".join(f"{name:>{width}}" for name, width in columns))
    print("\n".join(rows))
    print(
        "server CPU / client CPU: milliseconds of CPU per request of the server process and of this load generator\n"
        f"({os.environ.get('BENCH_CLIENT', 'lean')}, {CLIENTS} clients); with N cores the rate is at most about\n"
        "N * 1000 / (server + client + database ms)"
    )
