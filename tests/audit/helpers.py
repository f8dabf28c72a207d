"""Reading the audit trail straight from the database, and breaking it on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, text

from caremesh.audit.models import AuditEvent


async def audit_events(env: Any, **where: Any) -> list[AuditEvent]:
    """Audit events matching column == value filters, in chain order (unsealed ones last, as inserted)."""
    query = select(AuditEvent).order_by(AuditEvent.seq.is_(None), AuditEvent.seq, AuditEvent.position)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    async with env.db.sessionmaker() as session:
        return list((await session.scalars(query)).all())


@asynccontextmanager
async def append_only_lifted(env: Any) -> AsyncIterator[None]:
    """Let raw SQL change or delete audit rows, as an attacker with database access could."""
    async with env.db.engine.begin() as connection:
        if env.db.dialect == "postgresql":
            await connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            await connection.execute(text("DROP TRIGGER audit_events_seal_only"))
            await connection.execute(text("DROP TRIGGER audit_events_no_delete"))
    try:
        yield
    finally:
        if env.db.dialect == "postgresql":  # the schema outlives this test; SQLite files do not
            async with env.db.engine.begin() as connection:
                await connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
