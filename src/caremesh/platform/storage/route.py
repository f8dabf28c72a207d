"""No orphan objects: an object written during a request whose transaction does not commit is removed.

An object is written before the row that names it (so a row never names a missing object); the use case
calls `track` before it writes, and `StoringRoute` deletes what was tracked if the request fails, whether the
use case, a later flush or the commit itself failed. A committed unit keeps its objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from fastapi import Request, Response

from caremesh.platform.api import TransactionalRoute
from caremesh.platform.storage.port import ObjectStorage
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.storage")
_PENDING = "caremesh.storage.pending"


def track(uow: UnitOfWork, storage: ObjectStorage, key: str) -> None:
    """`key` is about to be written in `storage` for this unit: removed unless the unit commits."""
    pending: list[tuple[ObjectStorage, str]] | None = uow.state.get(_PENDING)
    if pending is None:
        pending = uow.state[_PENDING] = []
        uow.after_commit(pending.clear)
    pending.append((storage, key))


async def remove_uncommitted(uow: UnitOfWork) -> None:
    """Delete the objects tracked in `uow` that its commit did not keep."""
    for storage, key in uow.state.pop(_PENDING, []):
        try:
            await storage.delete(key)
        except Exception as error:  # the object stays, unreferenced; say so rather than hide the request's error
            log.error("storage_orphan_left", key=key, error_type=type(error).__name__, error=str(error))


class StoringRoute(TransactionalRoute):
    """A TransactionalRoute for use cases that write objects (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()

        async def handle_removing_orphans(request: Request) -> Response:
            try:
                return await handle(request)
            except BaseException:
                uow = getattr(request.state, "uow", None)
                if uow is not None:
                    await asyncio.shield(remove_uncommitted(uow))
                raise

        return handle_removing_orphans
