"""Processes starting at once on one empty database: every one starts, and the start-up steps (the first admin,
the default tariffs and notification templates) happen once. In process (apps started with asyncio.gather) and
as real `caremesh serve` processes serving different contexts."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from caremesh.app import create_app
from caremesh.billing.tariffs import DEFAULT_TARIFFS
from caremesh.notifications.catalogue import default_templates
from caremesh.platform.db import Database
from caremesh.platform.migrate import current_revision, head_revision, upgrade
from caremesh.platform.settings import DatabaseSettings, Settings
from tests.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    MigratedDatabase,
    dies_with_test,
    drop_schemas,
    free_port,
    process_env,
    search_every_schema,
    settings_for_tests,
)

# Context sets as an operator might split them; two name billing and notifications in opposite orders.
CONTEXT_SETS: tuple[tuple[str, ...] | None, ...] = (
    None,  # all
    ("identity", "audit", "patients", "facilities", "practitioners"),
    ("notifications", "scheduling", "billing"),
    ("billing", "payments", "insurance", "claims", "notifications"),
    ("pharmacy", "lab", "orders"),
    None,
)
START_TIMEOUT_SECONDS = 180.0  # importing and building the app takes ~4 s of CPU a process; two cores are shared


async def counts(db: DatabaseSettings) -> dict[str, int]:
    database = Database(db)
    search_every_schema(database)
    try:
        async with database.engine.connect() as connection:
            found = {}
            for table, where in (
                ("users", "1=1"),
                ("users", f"email = '{ADMIN_EMAIL}'"),
                ("tariffs", "1=1"),
                ("notification_templates", "1=1"),
                ("audit_events", "action = 'user.create'"),
            ):
                query = text(f"SELECT count(*) FROM {table} WHERE {where}")
                found[f"{table} where {where}"] = (await connection.execute(query)).scalar_one()
            return found
    finally:
        await database.dispose()


def expected(admins: int = 1) -> dict[str, int]:
    return {
        "users where 1=1": admins,
        f"users where email = '{ADMIN_EMAIL}'": 1,
        "tariffs where 1=1": len(DEFAULT_TARIFFS),
        "notification_templates where 1=1": len(default_templates()),
        "audit_events where action = 'user.create'": admins,
    }


# --- in process ----------------------------------------------------------------------------------------------


@asynccontextmanager
async def started_at_once(all_settings: Sequence[Settings]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Every app's lifespan entered at once; exits those that started, whatever happens."""
    apps = [
        create_app(settings, **({"contexts": contexts} if contexts else {}))
        for settings, contexts in zip(all_settings, CONTEXT_SETS, strict=True)
    ]
    lifespans = [app.router.lifespan_context(app) for app in apps]
    results = await asyncio.gather(*(lifespan.__aenter__() for lifespan in lifespans), return_exceptions=True)
    async with AsyncExitStack() as stack:
        for lifespan, result in zip(lifespans, results, strict=True):
            if not isinstance(result, BaseException):
                stack.push_async_exit(lifespan)
        failures = [result for result in results if isinstance(result, BaseException)]
        assert not failures, failures
        clients = []
        for app in apps:
            transport = httpx.ASGITransport(app=app)
            clients.append(await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://t")))
        yield clients


async def test_apps_started_at_once_all_start_and_bootstrap_once(migrated_database: MigratedDatabase, tmp_path):
    db = await migrated_database.fresh(tmp_path)
    all_settings = [settings_for_tests(db, tmp_path) for _ in CONTEXT_SETS]

    async with started_at_once(all_settings) as clients:
        for client in clients:
            assert (await client.get("/health/ready")).status_code == 200
        login = await clients[0].post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text

    assert await counts(db) == expected()


async def test_apps_configured_with_different_admins_create_only_the_first(
    migrated_database: MigratedDatabase, tmp_path
):
    """The first admin is made only while no user exists: one, even when each process names another."""
    db = await migrated_database.fresh(tmp_path)
    all_settings = [
        settings_for_tests(db, tmp_path, admin_email=ADMIN_EMAIL if i == 0 else f"admin{i}@example.org")
        for i in range(len(CONTEXT_SETS))
    ]
    async with started_at_once(all_settings):
        pass

    found = await counts(db)
    assert found["users where 1=1"] == 1
    assert found["audit_events where action = 'user.create'"] == 1
    assert found["tariffs where 1=1"] == len(DEFAULT_TARIFFS)


async def test_migrations_started_at_once_take_turns(migrated_database: MigratedDatabase, tmp_path):
    db = migrated_database.settings_for(tmp_path / "new.db")  # not there yet
    if migrated_database.is_postgres:
        db = db.model_copy(update={"database_schema": f"{db.database_schema}_m"})  # nor this schema
    try:
        at_once = asyncio.gather(*(upgrade(db) for _ in range(4)), return_exceptions=True)
        results = await asyncio.wait_for(at_once, timeout=120)
        assert results == [None] * 4
        assert await current_revision(db) == head_revision()
    finally:
        if migrated_database.is_postgres:
            await asyncio.to_thread(drop_schemas, db.database_schema)


# --- real processes ------------------------------------------------------------------------------------------


def process_environment(db: DatabaseSettings, tmp: Path) -> dict[str, str]:
    """This environment without CAREMESH_* variables, plus the database and the test's admin, cheap hashing."""
    database = {f"CAREMESH_{name.upper()}": str(value) for name, value in db.model_dump().items() if value is not None}
    return process_env(
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        {
            **database,
            "CAREMESH_JWT_SECRET": "test-signing-secret-not-for-production-0123456789",
            "CAREMESH_SECRET_FILE": str(tmp / "secret"),
            "CAREMESH_LOG_JSON": "true",
            "CAREMESH_LOG_LEVEL": "INFO",
        },
    )


class Server:
    def __init__(self, contexts: Sequence[str], tmp: Path, environment: dict[str, str]) -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        command = "from caremesh.cli import main; main()"
        args = ["serve", "--no-migrate", "--port", str(self.port), "--contexts", ",".join(contexts)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", command, *args],
                env=environment,
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=dies_with_test,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@asynccontextmanager
async def users_table_held(db: DatabaseSettings) -> AsyncIterator[None]:
    """On PostgreSQL, the users table locked until the block ends: processes that reach the first-admin step wait
    there, then go on together, so their start-ups really overlap. On SQLite, nothing: its write transactions
    are serialised (and a held write lock would stop the schema check that comes before)."""
    if not db.database_url.startswith("postgresql"):
        yield
        return
    database = Database(db)
    search_every_schema(database)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        await database.dispose()


async def wait_until_starting(servers: Sequence[Server]) -> None:
    """Until each process has printed its banner: the next thing it does is start the app."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not all("caremesh is starting" in server.output() for server in servers):
        for server in servers:
            if server.process.poll() is not None:
                pytest.fail(f"port {server.port} exited {server.process.returncode}:\n{server.output()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"not started after {START_TIMEOUT_SECONDS} s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # into the lifespan, waiting on the users table


async def wait_until_ready(servers: Sequence[Server]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    waiting = list(servers)
    async with httpx.AsyncClient(timeout=2) as client:
        while waiting:
            for server in list(waiting):
                if server.process.poll() is not None:
                    pytest.fail(f"port {server.port} exited {server.process.returncode}:\n{server.output()[-3000:]}")
                try:
                    response = await client.get(f"http://127.0.0.1:{server.port}/health/ready")
                except httpx.TransportError:
                    continue
                assert response.status_code == 200, response.text
                waiting.remove(server)
            if time.monotonic() > deadline:
                tails = " | ".join(server.output()[-500:] for server in waiting)
                pytest.fail(f"not ready after {START_TIMEOUT_SECONDS} s: {tails}")
            await asyncio.sleep(0.1)


def log_records(output: str) -> list[dict[str, object]]:
    records = []
    for line in output.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


@pytest.mark.slow
async def test_caremesh_serve_processes_started_at_once_on_an_empty_database(
    migrated_database: MigratedDatabase, tmp_path
):
    db = await migrated_database.fresh(tmp_path)  # migrated (what `caremesh migrate` does), no rows
    environment = process_environment(db, tmp_path)
    servers: list[Server] = []
    try:
        async with users_table_held(db):
            for contexts in (
                ("identity", "audit", "patients", "facilities", "practitioners", "scheduling"),
                ("billing", "payments", "insurance", "claims"),
                ("notifications", "billing"),
                ("pharmacy", "lab", "orders", "notifications"),
            ):
                servers.append(Server(contexts, tmp_path, environment))
            await wait_until_starting(servers)
        await wait_until_ready(servers)
        assert all(server.process.poll() is None for server in servers)
        assert await counts(db) == expected()
    finally:
        for server in servers:
            server.stop()

    for server in servers:
        records = log_records(server.output())
        assert "Traceback" not in server.output(), server.output()
        assert not [r for r in records if r.get("level") in ("error", "critical")], server.output()
    bootstrapped = [r for s in servers for r in log_records(s.output()) if r.get("event") == "admin_bootstrapped"]
    assert len(bootstrapped) == 1
