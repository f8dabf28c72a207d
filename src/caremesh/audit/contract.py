"""What other contexts may use of audit: `record` an action in the current unit of work."""

from __future__ import annotations

import uuid

from caremesh.audit import service
from caremesh.platform.uow import UnitOfWork


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
