from __future__ import annotations

import uuid

from pydantic import BaseModel

from caremesh.platform.timeutil import OutDateTime


class AuditEventRead(BaseModel):
    id: uuid.UUID
    seq: int
    at: OutDateTime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    request_id: str | None
    ip: str | None
    prev_hash: str
    hash: str


class ChainVerification(BaseModel):
    valid: bool
    count: int
    first_broken_id: uuid.UUID | None
