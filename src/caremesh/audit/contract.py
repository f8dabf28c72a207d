"""What other contexts may use of audit: `record` an action in the current unit of work. The composition root
also runs a `sealer` in every process (whatever contexts it serves: all of them record)."""

from __future__ import annotations

import uuid

from caremesh.audit import service
from caremesh.audit.sealer import Sealer
from caremesh.platform.uow import UnitOfWork, UnitOfWorkFactory


def record(
    uow: UnitOfWork,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str | None = None,
    *,
    actor_id: uuid.UUID | None = None,
) -> None:
    """Append an audit event when `uow` commits. Never pass clinical payload: only what and who.

    `actor_id` defaults to the unit of work's authenticated actor.
    """
    service.stage(uow, action, entity_type, None if entity_id is None else str(entity_id), actor_id)


def sealer(uow_factory: UnitOfWorkFactory) -> Sealer:
    """The background job that chains recorded events shortly after they commit."""
    return Sealer(uow_factory)
