"""Run as a process (`python -m tests.audit.sealer_dies_before_commit`, with `CAREMESH_DATABASE_URL` and, on
PostgreSQL, `CAREMESH_DATABASE_SCHEMA`): the real sealer seals a batch, prints how many events its open transaction
sees sealed, and the process SIGKILLs itself after the UPDATEs and before the commit. A crash in the worst place,
without a hook in the production code: the sealer's write step is wrapped here."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import caremesh.models  # noqa: F401 - every schema declared
from caremesh.audit.models import AuditEvent
from caremesh.audit.sealer import Sealer
from caremesh.platform.clock import SystemClock
from caremesh.platform.db import Database
from caremesh.platform.settings import Settings
from caremesh.platform.uow import UnitOfWorkFactory


class DiesBeforeCommit(Sealer):
    async def write(self, session: AsyncSession, seals: list[dict[str, Any]]) -> None:
        await super().write(session, seals)
        sealed = await session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_not(None)))
        print(sealed, flush=True)  # the UPDATEs are in the database, in a transaction that never commits
        os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    settings = Settings()
    sealer = DiesBeforeCommit(UnitOfWorkFactory(Database(settings.db), SystemClock(), settings=settings))
    await sealer.run_once()
    raise SystemExit("the sealer found nothing to seal")


if __name__ == "__main__":
    asyncio.run(main())
