"""The chain rule: each sealed event's hash is SHA-256 over the previous hash and a canonical form of the event."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Protocol

from caremesh.platform.timeutil import format_utc

GENESIS_HASH = "0" * 64

# What the chain covers of an event besides its seq: `event_digest`'s fields, the attributes of `Recorded`.
RECORDED = ("id", "at", "actor_id", "action", "entity_type", "entity_id", "request_id", "ip")


def event_digest(
    prev_hash: str,
    *,
    seq: int,
    id: uuid.UUID,
    at: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    request_id: str | None,
    ip: str | None,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "id": str(id),
            "at": format_utc(at),
            "actor_id": str(actor_id) if actor_id else None,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "request_id": request_id,
            "ip": ip,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class Recorded(Protocol):
    """What an audit event records (a row of `audit_events`, sealed or not)."""

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    request_id: str | None
    ip: str | None


def chained_digest(event: Recorded, seq: int, prev_hash: str) -> str:
    """The hash of `event` sealed at `seq` after `prev_hash`."""
    return event_digest(prev_hash, seq=seq, **{name: getattr(event, name) for name in RECORDED})
