"""A running caremesh for tests: the real app on a real database, a frozen clock, helpers to act as users."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text

from caremesh.app import create_app
from caremesh.platform.clock import FrozenClock
from caremesh.platform.db import Database
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import DeadLetter, OutboxEvent
from caremesh.platform.migrate import upgrade
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
)
from caremesh.platform.timeutil import set_clinic_timezone
from caremesh.platform.uow import UnitOfWork

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct-horse-battery-9"
USER_PASSWORD = "a-long-test-password-42"
# A Monday, 06:00 UTC: working hours (08:00-18:00) are ahead, so bookings today are in the future.
T0 = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)
# Tables filled by migrations with reference data: kept between tests.
REFERENCE_TABLES = {"alembic_version", "specialties", "audit_chain_head"}

POSTGRES_URL = os.environ.get("CAREMESH_TEST_DATABASE_URL")
PROBLEM_JSON = "application/problem+json"


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
    async with env.db.engine.connect() as connection:
        rows = await connection.execute(
            select(OutboxEvent.payload).where(OutboxEvent.type == event_type).order_by(OutboxEvent.seq)
        )
        return [row[0] for row in rows]


def dead_letter(envelope: Envelope, consumer: str, **overrides: Any) -> DeadLetter:
    """A dead-lettered delivery of `envelope` to `consumer`, failed at the envelope's time."""
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
    return DeadLetter(**fields)


class MigratedDatabase:
    """One migrated database per test run; each test starts from the migrated state."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.schema = f"cm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = workdir / "template.db"

    @property
    def is_postgres(self) -> bool:
        return bool(POSTGRES_URL)

    def prepare(self) -> None:
        asyncio.run(upgrade(self.settings_for(self.template)))

    def settings_for(self, sqlite_file: Path) -> DatabaseSettings:
        if self.is_postgres:
            return DatabaseSettings(database_url=POSTGRES_URL, database_schema=self.schema, database_pool_size=30)
        return DatabaseSettings(database_url=f"sqlite+aiosqlite:///{sqlite_file}")

    async def fresh(self, tmp: Path) -> DatabaseSettings:
        if not self.is_postgres:
            target = tmp / "caremesh.db"
            shutil.copyfile(self.template, target)
            return self.settings_for(target)
        settings = self.settings_for(self.template)
        db = Database(settings)
        try:
            async with db.engine.begin() as connection:
                tables = (
                    await connection.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": self.schema}
                    )
                ).scalars()
                wipe = [f'"{self.schema}"."{name}"' for name in tables if name not in REFERENCE_TABLES]
                if wipe:
                    await connection.execute(text(f"TRUNCATE {', '.join(wipe)} RESTART IDENTITY CASCADE"))
                await connection.execute(
                    text(f"UPDATE \"{self.schema}\".audit_chain_head SET last_seq = 0, last_hash = '{'0' * 64}'")
                )
        finally:
            await db.dispose()
        return settings

    def drop(self) -> None:
        if not self.is_postgres:
            return

        async def drop_schema() -> None:
            db = Database(DatabaseSettings(database_url=POSTGRES_URL))
            async with db.engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            await db.dispose()

        asyncio.run(drop_schema())


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
        "secret_file": tmp / "secret",
    }
    defaults.update(security)
    return Settings(
        app=AppSettings(timezone=timezone, log_level="WARNING"),
        db=db,
        security=SecuritySettings(**defaults),
        messaging=MessagingSettings(run_workers=False, consumer_backoff_base_seconds=1, consumer_max_attempts=3),
        billing=BillingSettings(**(billing or {})),
        payments=PaymentSettings(**(payments or {})),
        notifications=NotificationSettings(**(notifications or {})),
        orders=OrderSettings(**(orders or {})),
        clinic=ClinicSettings(**(clinic or {})),
        claims=ClaimSettings(**(claims or {})),
        http=HttpSettings(**(http or {})),
    )


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
        async with self.db.engine.connect() as connection:
            rows = await connection.execute(text("SELECT type FROM outbox_events ORDER BY seq"))
            return [row[0] for row in rows]

    async def count(self, table: str, where: str = "1=1", **params: Any) -> int:
        async with self.db.engine.connect() as connection:
            return (await connection.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)).scalar_one()


@asynccontextmanager
async def running_env(
    settings: Settings, *, clock: FrozenClock | None = None, subscriptions: list[Subscription] | None = None
) -> AsyncIterator[Env]:
    clock = clock or FrozenClock(T0)
    app = create_app(settings, clock=clock, extra_subscriptions=subscriptions or [])
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                env = Env(app=app, client=client, clock=clock)
                env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)
                yield env
    finally:
        set_clinic_timezone(UTC)  # create_app set the process-wide clinic timezone
