"""What other contexts may use of audit: `record` an action in the current unit of work, and `repository`, the
platform's repository recording through it. The composition root also runs a `sealer` in every process (whatever
contexts it serves: all of them record)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from caremesh.audit import service
from caremesh.audit.sealer import Sealer
from caremesh.platform.repository import Repository
from caremesh.platform.uow import UnitOfWork, UnitOfWorkFactory

RowT = TypeVar("RowT")


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


def repository(model: type[RowT], not_found: Callable[..., Exception], **options: Any) -> Repository[RowT]:
    """A repository (platform/repository.py) whose reads and lists are recorded in this audit trail."""
    return Repository(model, not_found, record=record, **options)


def sealer(uow_factory: UnitOfWorkFactory) -> Sealer:
    """The background job that chains recorded events shortly after they commit."""
    return Sealer(uow_factory)
