from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from caremesh.platform.repository import ListFilters
from caremesh.platform.timeutil import OutDateTime

_UNSEALED = "Null until the sealer chains the event (milliseconds after its transaction commits)."


@dataclass(frozen=True, kw_only=True)
class AuditEventFilters(ListFilters):
    entity_type: Annotated[str | None, Query(max_length=64)] = None
    entity_id: Annotated[str | None, Query(max_length=64)] = None
    actor_id: uuid.UUID | None = None


class AuditEventRead(BaseModel):
    id: uuid.UUID
    seq: int | None = Field(description="Position in the chain, 1, 2, 3 … without gaps. " + _UNSEALED)
    at: OutDateTime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    request_id: str | None
    ip: str | None
    prev_hash: str | None = Field(description="The previous sealed event's hash (64 zeros for the first). " + _UNSEALED)
    hash: str | None = Field(description="SHA-256 over `prev_hash` and this event. " + _UNSEALED)


class ChainVerification(BaseModel):
    valid: bool = Field(description="Every sealed event is where the chain says, unchanged, and none is missing.")
    count: int = Field(description="Sealed events checked.")
    first_broken_id: uuid.UUID | None = Field(description="The first sealed event whose seq, link or hash fails.")
    unsealed: int = Field(description="Events recorded but not sealed yet (the sealer chains them shortly).")
