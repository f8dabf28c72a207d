"""Appointments booked per second through the HTTP API with concurrent clients, against the same
inserts done directly through the database driver, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text

from bench.server import Backend, admin_session, backends, print_table, running_server
from caremesh.demo import npi_with_check_digit
from caremesh.models import SCHEMAS
from caremesh.platform.db import Database, physical_schema

BOOKINGS = int(os.environ.get("BENCH_BOOKINGS", "600"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PRACTITIONERS = 20
PATIENTS = 100
SLOTS_PER_DAY = 20  # 08:00-18:00 in 30-minute slots
# SQLite writes one transaction at a time: its baseline is one connection (more only wait in the busy handler).
SQLITE_WRITERS = 1


def weekday_slots(first_day: date, count: int) -> list[datetime]:
    slots: list[datetime] = []
    day = first_day
    while len(slots) < count:
        if day.weekday() < 5:
            for index in range(SLOTS_PER_DAY):
                slots.append(datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(minutes=30 * index))
        day += timedelta(days=1)
    return slots[:count]


def plan(first_day: date, bookings: int) -> list[tuple[int, int, datetime]]:
    """(practitioner index, patient index, start) for each booking, with no two overlapping."""
    slots = weekday_slots(first_day, bookings // PRACTITIONERS + 1)
    return [(i % PRACTITIONERS, i % PATIENTS, slots[i // PRACTITIONERS]) for i in range(bookings)]


async def run_concurrently(jobs: list[Callable[[], Awaitable[None]]], clients: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            started = time.perf_counter()
            await job()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started, latencies


async def setup(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[list[str], list[str]]:
    async def practitioner(index: int) -> str:
        body = {
            "first_name": "Bench",
            "last_name": f"Doctor{index}",
            "npi": npi_with_check_digit(f"2{index:08d}"),
            "specialty": ("cardiology", "orthopedics", "general_practice", "neurology")[index % 4],
            "practice_start_date": "2005-06-01",
        }
        response = await client.post("/api/v1/practitioners", json=body, headers=headers)
        response.raise_for_status()
        return response.json()["id"]

    async def patient(index: int) -> str:
        body = {"first_name": "Bench", "last_name": f"Patient{index}", "date_of_birth": "1980-01-01", "gender": "other"}
        response = await client.post("/api/v1/patients", json=body, headers=headers)
        response.raise_for_status()
        return response.json()["id"]

    practitioners = [await practitioner(i) for i in range(PRACTITIONERS)]
    patients = [await patient(i) for i in range(PATIENTS)]
    return practitioners, patients


async def api_round(
    client: httpx.AsyncClient, headers: dict[str, str], practitioners: list[str], patients: list[str], first_day: date
) -> tuple[float, list[float]]:
    """Book BOOKINGS appointments through the API with CLIENTS concurrent clients."""
    failures: list[str] = []

    def booking(practitioner: int, patient: int, start: datetime) -> Callable[[], Awaitable[None]]:
        async def book() -> None:
            body = {
                "patient_id": patients[patient],
                "practitioner_id": practitioners[practitioner],
                "start": start.isoformat(),
                "duration_minutes": 30,
            }
            response = await client.post("/api/v1/appointments", json=body, headers=headers)
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")

        return book

    jobs = [booking(*entry) for entry in plan(first_day, BOOKINGS)]
    elapsed, latencies = await run_concurrently(jobs, CLIENTS)
    if failures:
        raise RuntimeError(f"{len(failures)} bookings failed, e.g. {failures[0]}")
    return elapsed, latencies


INSERT_COLUMNS = (
    "id, number, patient_id, practitioner_id, start_at, end_at, duration_minutes, status, specialty, "
    "version, created_at, updated_at"
)


async def direct_round(
    backend: Backend, practitioners: list[str], patients: list[str], first_day: date, round_index: int
) -> float:
    """The same appointment rows, each in its own committed transaction, straight through the driver."""
    rows = []
    now = datetime.now(UTC)
    for index, (practitioner, patient, start) in enumerate(plan(first_day, BOOKINGS)):
        rows.append(
            (
                uuid.uuid4(),
                f"BEN-{round_index}-{index:06d}",
                uuid.UUID(patients[patient]),
                uuid.UUID(practitioners[practitioner]),
                start,
                start + timedelta(minutes=30),
                now,
            )
        )
    if backend.db.is_sqlite:
        return await _direct_sqlite(backend, rows)
    return await _direct_postgres(backend, rows)


def _sqlite_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def _direct_sqlite(backend: Backend, rows: list[tuple]) -> float:
    import aiosqlite

    path = backend.db.database_url.split("///", 1)[1]
    connections = []
    for _ in range(SQLITE_WRITERS):
        connection = await aiosqlite.connect(path, timeout=30, isolation_level=None)
        await connection.execute("PRAGMA busy_timeout=30000")
        await connection.execute("PRAGMA synchronous=NORMAL")
        connections.append(connection)
    pool: asyncio.Queue = asyncio.Queue()
    for connection in connections:
        pool.put_nowait(connection)
    sql = f"INSERT INTO appointments ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 30, 'scheduled', 'bench', 1, ?, ?)"

    def insert(row: tuple) -> Callable[[], Awaitable[None]]:
        ident, number, patient, practitioner, start, end, now = row

        async def run() -> None:
            connection = await pool.get()
            try:
                await connection.execute("BEGIN IMMEDIATE")
                await connection.execute(
                    sql,
                    (
                        ident.hex,
                        number,
                        patient.hex,
                        practitioner.hex,
                        _sqlite_time(start),
                        _sqlite_time(end),
                        _sqlite_time(now),
                        _sqlite_time(now),
                    ),
                )
                await connection.execute("COMMIT")
            finally:
                pool.put_nowait(connection)

        return run

    elapsed, _ = await run_concurrently([insert(row) for row in rows], CLIENTS)
    for connection in connections:
        await connection.close()
    return elapsed


async def _direct_postgres(backend: Backend, rows: list[tuple]) -> float:
    dsn = backend.db.database_url.replace("postgresql+asyncpg", "postgresql")
    pool = await asyncpg.create_pool(
        dsn,
        min_size=CLIENTS,
        max_size=CLIENTS,
        server_settings={"search_path": physical_schema("scheduling", backend.db.database_schema)},
    )
    sql = (
        f"INSERT INTO appointments ({INSERT_COLUMNS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, 30, 'scheduled', 'bench', 1, $7, $7)"
    )

    def insert(row: tuple) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            async with pool.acquire() as connection:
                await connection.execute(sql, *row)

        return run

    elapsed, _ = await run_concurrently([insert(row) for row in rows], CLIENTS)
    await pool.close()
    return elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


async def drop_schema(backend: Backend) -> None:
    if prefix := backend.db.database_schema:
        db = Database(backend.db.model_copy(update={"database_schema": None}))
        async with db.engine.begin() as connection:
            for schema in (prefix, *(physical_schema(logical, prefix) for logical in SCHEMAS)):
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await db.dispose()


async def measure(backend: Backend, first_day: date) -> str:
    """ROUNDS rounds, each booking through the API and then inserting directly, on distinct days."""
    api_rates, direct_rates, latencies = [], [], []
    async with running_server(backend.db) as server, admin_session(server, CLIENTS) as (client, headers):
        practitioners, patients = await setup(client, headers)
        for round_index in range(ROUNDS):
            api_day = first_day + timedelta(weeks=8 * round_index)
            elapsed, round_latencies = await api_round(client, headers, practitioners, patients, api_day)
            api_rates.append(BOOKINGS / elapsed)
            latencies.extend(round_latencies)
            direct_day = api_day + timedelta(weeks=4)
            direct = await direct_round(backend, practitioners, patients, direct_day, round_index)
            direct_rates.append(BOOKINGS / direct)
    api, direct = statistics.median(api_rates), statistics.median(direct_rates)
    return (
        f"{backend.name:<10} {spread(api_rates):>19} {percentile(latencies, 50) * 1000:>8.1f} "
        f"{percentile(latencies, 99) * 1000:>8.1f} {spread(direct_rates):>20} {api / direct:>10.3f}"
    )


async def on_each_backend(measure: Callable[[Backend, date], Awaitable[str]]) -> list[str]:
    """`measure(backend, first_day)` on SQLite and PostgreSQL, each in a fresh database; a table row per backend."""
    workdir = Path(tempfile.mkdtemp(prefix="caremesh-bench-"))
    first_day = date.today() + timedelta(days=7)
    rows = []
    for backend in backends(workdir):
        try:
            rows.append(await measure(backend, first_day))
        except (OSError, asyncpg.PostgresError) as error:
            rows.append(f"{backend.name:<10} skipped ({type(error).__name__}: {error})")
        finally:
            await drop_schema(backend)
    return rows


def spread(rates: list[float]) -> str:
    return f"{statistics.median(rates):.1f} ({min(rates):.0f}-{max(rates):.0f})"


async def main() -> None:
    print(
        f"booking benchmark: {ROUNDS} rounds of {BOOKINGS} bookings, {CLIENTS} concurrent clients, "
        f"{os.cpu_count()} CPUs; rates are medians (min-max) over the rounds"
    )
    rows = await on_each_backend(measure)
    columns = ("API bookings/s", 19), ("p50 ms", 8), ("p99 ms", 8), ("driver inserts/s", 20), ("API/driver", 10)
    print_table(columns, rows)
