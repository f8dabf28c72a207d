"""A running caremesh for tests: the real app on a real database, a frozen clock, helpers to act as users."""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from pydantic_settings import BaseSettings
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.routing import BaseRoute

from caremesh.app import create_app
from caremesh.models import SCHEMAS
from caremesh.platform.clock import FrozenClock
from caremesh.platform.db import PLATFORM_SCHEMA, Database, physical_schema
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.consumer import tables_of
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import every_messaging_set
from caremesh.platform.migrate import alembic_config, upgrade
from caremesh.platform.numbering import SEQUENCE_NAME_PREFIX
from caremesh.platform.settings import (
    AppSettings,
    BillingSettings,
    ClaimSettings,
    ClinicSettings,
    DatabaseSettings,
    HttpSettings,
    MessagingSettings,
    NotificationSettings,
    OrderSettings,
    PaymentSettings,
    SecuritySettings,
    Settings,
    StorageSettings,
)
from caremesh.platform.timeutil import set_clinic_timezone
from caremesh.platform.uow import UnitOfWork

MESSAGING_TABLES = ("outbox_events", "event_deliveries", "inbox", "dead_letters")
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct-horse-battery-9"
USER_PASSWORD = "a-long-test-password-42"
# A Monday, 06:00 UTC: working hours (08:00-18:00) are ahead, so bookings today are in the future.
T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)

POSTGRES_URL = os.environ.get("CAREMESH_TEST_DATABASE_URL")
PROBLEM_JSON = "application/problem+json"
SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and stable code; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers["content-type"]
    body = response.json()
    assert (body["code"], body["status"]) == (code, status), body
    assert all(body[key] for key in ("type", "title", "detail"))
    return body


async def every_page(env: Env, path: str, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """The items of every page of a list endpoint with these filters (None filters are left out)."""
    items: list[dict[str, Any]] = []
    query = {k: str(v) for k, v in params.items() if v is not None}
    while True:
        response = await env.client.get(path, params=query, headers=headers or env.admin)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        query["cursor"] = page["next_cursor"]


async def outbox_payloads(env: Env, event_type: str) -> list[dict[str, Any]]:
    """Payloads of the outbox events of one type, oldest first."""
    return [row.payload for row in await outbox_rows(env, event_type)]


async def outbox_rows(env: Env, event_type: str | None = None) -> list[Any]:
    """The outbox events of every context (of one type, if given), oldest first: in one outbox by its order, and
    across the contexts' outboxes (PostgreSQL) by the time they occurred."""
    sets = every_messaging_set(env.db.dialect)
    rows: list[Any] = []
    async with env.db.engine.connect() as connection:
        for tables in sets:
            query = select(tables.outbox)
            if event_type is not None:
                query = query.where(tables.outbox.type == event_type)
            rows += (await connection.execute(query)).all()
    return sorted(rows, key=lambda row: (row.occurred_at, row.seq) if len(sets) > 1 else row.seq)


def dead_letter(envelope: Envelope, consumer: str, **overrides: Any) -> Any:
    """A dead-lettered delivery of `envelope` to `consumer` (in its context's table), failed at the envelope's
    time."""
    fields: dict[str, Any] = {
        "consumer": consumer,
        "event_id": envelope.id,
        "event_type": envelope.type,
        "envelope": envelope.to_dict(),
        "attempts": 5,
        "error": "RuntimeError: boom",
        "failed_at": envelope.occurred_at,
    }
    fields.update(overrides)
    return tables_of(consumer).dead_letters(**fields)


class MigratedDatabase:
    """One database per test worker, migrated once; each test starts from a snapshot of it.

    Two snapshots: `fresh` (just migrated) and `started` (after a first start of the app with the default
    test settings and the admin's login, whose headers are kept in `admin`). SQLite copies a snapshot file
    per test; PostgreSQL resets the worker's schema in one call to a function that deletes every row and
    puts back the snapshot's rows and sequence values (cheaper than truncating every table).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.schema = f"cm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = workdir / "template.db"
        self.started_template = workdir / "started.db"
        self.admin: dict[str, str] = {}

    @property
    def is_postgres(self) -> bool:
        return bool(POSTGRES_URL)

    def prepare(self) -> None:
        asyncio.run(self._prepare())

    async def _prepare(self) -> None:
        await upgrade(self.settings_for(self.template))
        if self.is_postgres:
            await self._snapshot("fresh")
        home = self.workdir / "started"
        home.mkdir()
        settings = settings_for_tests(await self.fresh(home), home)
        async with running_env(settings) as env:
            self.admin = dict(env.admin)
        if self.is_postgres:
            await self._snapshot("started")
        else:
            with (
                closing(sqlite3.connect(home / "caremesh.db")) as source,
                closing(sqlite3.connect(self.started_template)) as target,
            ):
                source.backup(target)

    def settings_for(self, sqlite_file: Path) -> DatabaseSettings:
        if self.is_postgres:
            return _concern(
                DatabaseSettings,
                database_url=POSTGRES_URL,
                database_schema=self.schema,
                database_pool_size=TEST_APP_POOL_SIZE,
            )
        return _concern(DatabaseSettings).model_copy(update={"database_url": f"sqlite+aiosqlite:///{sqlite_file}"})

    async def fresh(self, tmp: Path) -> DatabaseSettings:
        """The database as just migrated."""
        if not self.is_postgres:
            return self._copy(self.template, tmp)
        connection = await asyncpg.connect(_asyncpg_dsn())
        try:
            await connection.execute(f'SELECT "{self.schema}"."cm_reset_fresh"()')
        finally:
            await connection.close()
        return self.settings_for(self.template)

    def started(self, tmp: Path) -> DatabaseSettings:
        """The database after a first start with the default test settings and the admin's login. On SQLite,
        restored now; on PostgreSQL, pass `restore_started` to `running_env`, which restores the snapshot on the
        app's first connection instead of opening one more."""
        if not self.is_postgres:
            return self._copy(self.started_template, tmp)
        return self.settings_for(self.template)

    async def restore_started(self, connection: AsyncConnection) -> None:
        if self.is_postgres:
            await connection.execute(text(f'SELECT "{self.schema}"."cm_reset_started"()'))

    def _copy(self, sqlite_file: Path, tmp: Path) -> DatabaseSettings:
        target = tmp / "caremesh.db"
        shutil.copyfile(sqlite_file, target)
        return self.settings_for(target)

    async def _snapshot(self, name: str) -> None:
        """Copy the rows of every schema of this worker into `<schema>_snap_<name>` and create
        `cm_reset_<name>()`, which restores them."""
        copy = f"{self.schema}_snap_{name}"
        connection = await asyncpg.connect(_asyncpg_dsn())
        try:
            tables = await connection.fetch(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])"
                " AND tablename <> 'alembic_version' ORDER BY schemaname, tablename",
                worker_schemas(self.schema),
            )
            await connection.execute(f'CREATE SCHEMA "{copy}"')
            kept = []
            for schema, table in tables:
                if await connection.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{schema}"."{table}")'):
                    await connection.execute(f'CREATE TABLE "{copy}"."{schema}.{table}" AS TABLE "{schema}"."{table}"')
                    kept.append((schema, table))
            sequences = await connection.fetch(
                "SELECT schemaname, sequencename, start_value, last_value FROM pg_sequences"
                " WHERE schemaname = ANY($1::text[])",
                worker_schemas(self.schema),
            )
            numbers = ", ".join(f"'{schema}'" for schema in worker_schemas(self.schema))
            body = [
                "PERFORM set_config('session_replication_role', 'replica', true);",  # no FK or audit triggers
                # The numbers' sequences, created on demand (platform/numbering.py), start again at 1.
                f"FOR seq IN SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname IN ({numbers})"
                f" AND sequencename LIKE '{SEQUENCE_NAME_PREFIX}%' LOOP",
                "PERFORM setval(format('%I.%I', seq.schemaname, seq.sequencename)::regclass, 1, false); END LOOP;",
                *(f'DELETE FROM "{schema}"."{table}";' for schema, table in tables),
                *(
                    f'INSERT INTO "{schema}"."{table}" OVERRIDING SYSTEM VALUE'
                    f' SELECT * FROM "{copy}"."{schema}.{table}";'
                    for schema, table in kept
                ),
                *(
                    f'PERFORM setval(\'"{seq["schemaname"]}"."{seq["sequencename"]}"\', '
                    f"{seq['last_value'] or seq['start_value']}, {'true' if seq['last_value'] else 'false'});"
                    for seq in sequences
                ),
                "PERFORM set_config('session_replication_role', 'origin', true);",
            ]
            await connection.execute(
                f'CREATE FUNCTION "{self.schema}"."cm_reset_{name}"() RETURNS void LANGUAGE plpgsql AS $$\n'
                + "DECLARE seq record; BEGIN\n"
                + "\n".join(body)
                + "\nEND $$"
            )
        finally:
            await connection.close()

    def drop(self) -> None:
        if not self.is_postgres:
            return

        drop_schemas(self.schema, f"{self.schema}_snap_fresh", f"{self.schema}_snap_started")


def worker_schemas(prefix: str) -> list[str]:
    """The PostgreSQL schemas of an installation whose CAREMESH_DATABASE_SCHEMA is `prefix`: that one (the
    version table), the platform's (first: a messaging table named alone is the platform's) and the contexts'."""
    logical = sorted(SCHEMAS, key=lambda name: name != PLATFORM_SCHEMA)
    return [prefix, *(physical_schema(name, prefix) for name in logical)]


def revision_before(revision: str) -> str:
    """The migration `revision` follows (its down revision), as the chain stands: a migration test downgrades to it."""
    before = ScriptDirectory.from_config(alembic_config()).get_revision(revision).down_revision
    assert isinstance(before, str), revision
    return before


@contextmanager
def throwaway_installation(tmp_path: Path, tag: str) -> Iterator[DatabaseSettings]:
    """An empty database of its own for a migration test: a SQLite file in `tmp_path`, or on PostgreSQL the
    schemas prefixed `cm_<tag>_<random>`, dropped afterwards."""
    if not POSTGRES_URL:
        yield DatabaseSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'installation.db'}")
        return
    prefix = f"cm_{tag}_{uuid.uuid4().hex[:8]}"
    try:
        yield DatabaseSettings(database_url=POSTGRES_URL, database_schema=prefix)
    finally:
        drop_schemas(prefix)


def drop_schemas(*schemas: str) -> None:
    """Drop these PostgreSQL schemas, the per-context schemas of the installations they name, and everything
    in them (for tests that made their own)."""

    async def drop() -> None:
        connection = await asyncpg.connect(_asyncpg_dsn())
        try:
            for schema in schemas:
                for each in worker_schemas(schema):
                    await connection.execute(f'DROP SCHEMA IF EXISTS "{each}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())


def search_every_schema(db: Database) -> None:
    """Tests' raw SQL names tables without their schema: on PostgreSQL, let this database's connections find
    every schema of the installation (the app's own statements are schema-qualified and need no search path)."""
    if db.dialect != "postgresql" or not db.settings.database_schema:
        return
    path = ", ".join(f'"{schema}"' for schema in [*worker_schemas(db.settings.database_schema), "public"])

    @event.listens_for(db.engine.sync_engine, "connect")
    def _search(dbapi_connection: Any, _record: Any) -> None:
        # On the driver's connection, outside SQLAlchemy's transaction, so no rollback undoes it.
        dbapi_connection.run_async(lambda driver: driver.execute(f"SET search_path TO {path}"))


# PostgreSQL connections (the server allows 100 in all; an engine holds up to twice its pool size, and keeps its
# pool's connections open while idle). Two test workers each run an in-process app, and some tests start up to
# five caremesh processes of their own, plus the web app's demo server per worker: together they must stay
# under the limit even when both workers run their most connection-hungry tests at once.
TEST_APP_POOL_SIZE = 15
PROCESS_POOL_SIZE = 4


def process_env(admin_email: str, admin_password: str, variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a caremesh process a test starts: this one without any CAREMESH_* variable, the test's
    admin, cheap password hashing, warnings only, a small connection pool; `variables` add or override
    CAREMESH_* settings."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAREMESH_")},
        "CAREMESH_ADMIN_EMAIL": admin_email,
        "CAREMESH_ADMIN_PASSWORD": admin_password,
        "CAREMESH_ARGON2_TIME_COST": "1",
        "CAREMESH_ARGON2_MEMORY_KIB": "1024",
        "CAREMESH_ARGON2_PARALLELISM": "1",
        "CAREMESH_LOG_LEVEL": "WARNING",
        "CAREMESH_DATABASE_POOL_SIZE": str(PROCESS_POOL_SIZE),
        **(variables or {}),
    }


_prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child calls it between fork and exec
_PR_SET_PDEATHSIG = 1


def dies_with_test() -> None:
    """`preexec_fn` of a server a test starts from its main thread: the kernel kills it when the test process
    ends, so a test run that is itself killed leaves no server behind holding database connections."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _asyncpg_dsn() -> str:
    assert POSTGRES_URL
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://", 1)


def settings_for_tests(
    db: DatabaseSettings,
    tmp: Path,
    *,
    timezone: str = "UTC",
    billing: dict[str, Any] | None = None,
    payments: dict[str, Any] | None = None,
    notifications: dict[str, Any] | None = None,
    orders: dict[str, Any] | None = None,
    clinic: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    http: dict[str, Any] | None = None,
    storage: dict[str, Any] | None = None,
    **security: Any,
) -> Settings:
    """Settings for one test; `billing`, `payments`, `notifications`, `orders`, `clinic`, `claims` and `http` override
    those concerns' fields."""
    defaults: dict[str, Any] = {
        "jwt_secret": "test-signing-secret-not-for-production-0123456789",
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        # Cheap hashing keeps the suite fast; production uses the RFC 9106 defaults.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "login_rate_limit": "10000/minute",
        "api_rate_limit": "100000/minute",
    }
    defaults.update(security)
    secret_file = defaults.pop("secret_file", tmp / "secret")
    return Settings(
        app=_concern(AppSettings, timezone=timezone, log_level="WARNING"),
        db=db,
        security=_concern(SecuritySettings, **defaults).model_copy(update={"secret_file": secret_file}),
        messaging=_concern(
            MessagingSettings, run_workers=False, consumer_backoff_base_seconds=1, consumer_max_attempts=3
        ),
        billing=_concern(BillingSettings, **(billing or {})),
        payments=_concern(PaymentSettings, **(payments or {})),
        notifications=_concern(NotificationSettings, **(notifications or {})),
        orders=_concern(OrderSettings, **(orders or {})),
        clinic=_concern(ClinicSettings, **(clinic or {})),
        claims=_concern(ClaimSettings, **(claims or {})),
        http=_concern(HttpSettings, **(http or {})),
        # Files in the test's own directory, whatever the database (`storage`: e.g. an S3 store instead).
        storage=_concern(StorageSettings, **{"storage_dir": tmp / "files", **(storage or {})}),
    )


_concerns: dict[tuple[Any, ...], BaseSettings] = {}


def _concern(kind: type[SettingsT], **fields: Any) -> SettingsT:
    """`kind(**fields)`, built once per process for these fields and `CAREMESH_*` variables (building one
    reads the environment: about 2 ms) and copied for each test."""
    variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CAREMESH_")))
    key = (kind, repr(sorted(fields.items())), variables)
    if key not in _concerns:
        _concerns[key] = kind(**fields)
    return _concerns[key].model_copy()  # type: ignore[return-value]


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    clock: FrozenClock
    admin: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.app.state.db

    @asynccontextmanager
    async def uow(self, **meta: Any) -> AsyncIterator[UnitOfWork]:
        async with self.app.state.uow_factory.begin(**meta) as uow:
            yield uow

    async def login(self, email: str, password: str = USER_PASSWORD) -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def user(
        self,
        roles: list[str],
        *,
        patient_id: str | uuid.UUID | None = None,
        practitioner_id: str | uuid.UUID | None = None,
        email: str | None = None,
    ) -> dict[str, str]:
        """Headers of a newly created user with these roles."""
        email = email or f"{'-'.join(roles)}-{uuid.uuid4().hex[:8]}@example.org"
        body = {
            "email": email,
            "password": USER_PASSWORD,
            "full_name": "Test User",
            "roles": roles,
            "patient_id": str(patient_id) if patient_id else None,
            "practitioner_id": str(practitioner_id) if practitioner_id else None,
        }
        response = await self.client.post("/api/v1/users", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return await self.login(email)

    async def warm_pool(self, size: int = 10) -> None:
        """Open pooled connections first, so concurrent requests really overlap instead of one
        finishing while the next is still connecting to the database."""
        responses = await asyncio.gather(*(self.client.get("/api/v1/auth/me", headers=self.admin) for _ in range(size)))
        assert all(r.status_code == 200 for r in responses)

    async def drain(self) -> None:
        """Relay committed events and run every due consumer until nothing is left."""
        await self.app.state.workers.drain()

    async def outbox_types(self) -> list[str]:
        return [row.type for row in await outbox_rows(self)]

    async def count(self, table: str, where: str = "1=1", **params: Any) -> int:
        """Rows of `table` (named without its schema) matching `where`; of a messaging table: in every
        context's."""
        names = [table]
        if table in MESSAGING_TABLES and self.db.dialect == "postgresql":
            prefix = self.db.settings.database_schema
            names = [
                f'"{physical_schema(tables.schema, prefix)}".{table}' for tables in every_messaging_set("postgresql")
            ]
        total = 0
        async with self.db.engine.connect() as connection:
            for name in names:
                total += (
                    await connection.execute(text(f"SELECT count(*) FROM {name} WHERE {where}"), params)
                ).scalar_one()
        return total


@asynccontextmanager
async def running_env(
    settings: Settings,
    *,
    clock: FrozenClock | None = None,
    subscriptions: list[Subscription] | None = None,
    admin: dict[str, str] | None = None,
    restore: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> AsyncIterator[Env]:
    """The app started on `settings`; `admin`: the admin's headers if already logged in (the database is a
    snapshot taken after that login), else the admin logs in; `restore`: run first on the app's database."""
    clock = clock or FrozenClock(T0)
    app = create_app(settings, clock=clock, extra_subscriptions=subscriptions or [])
    _share_routes(app)
    search_every_schema(app.state.db)
    if restore is not None:
        async with app.state.db.engine.begin() as connection:
            await restore(connection)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                env = Env(app=app, client=client, clock=clock)
                env.admin = dict(admin) if admin else await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)
                yield env
    finally:
        set_clinic_timezone(UTC)  # create_app set the process-wide clinic timezone


# Included routers already built in this process.
_built_routes: list[BaseRoute] = []


def _share_routes(app: FastAPI) -> None:
    """FastAPI builds the routes of an included router lazily, per app, at its first request (about 20 ms a
    context); a new app per test paid that again and again. Reuse the ones built for an earlier app when they
    were included the same way. Their dependency overrides are the first app's (tests use none)."""
    routes = app.router.routes
    for index, route in enumerate(routes):
        inclusion = _inclusion(route)
        if inclusion is None:
            continue
        built = next((built for built in _built_routes if _inclusion(built) == inclusion), None)
        if built is None:
            _built_routes.append(route)
        else:
            routes[index] = built


def _inclusion(route: BaseRoute) -> tuple[int, Any] | None:
    """The router a route of an app includes, and how (prefix, tags, ...), without the app itself."""
    context = getattr(route, "include_context", None)
    if context is None or not hasattr(context, "dependency_overrides_provider"):
        return None
    return id(route.original_router), replace(context, dependency_overrides_provider=None)  # type: ignore[attr-defined]


# --- the distributed mode's broker (helpers of the topology tests; kept apart from the snapshot code above) ---


def delete_streams(broker_url: str, *namespaces: str) -> None:
    """Delete these namespaces' JetStream streams (for tests that made their own); a broker that does not answer
    any more (a test stopped its own) or a stream never created is not an error."""
    import contextlib

    import nats

    async def delete() -> None:
        try:
            client = await nats.connect(broker_url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        except Exception:  # nats-py raises several kinds; nothing to delete on a broker that is gone
            return
        try:
            for namespace in namespaces:
                with contextlib.suppress(Exception):  # never created
                    await client.jetstream().delete_stream(namespace.upper())
        finally:
            await client.close()

    asyncio.run(delete())
