"""The versioned event envelope every integration event travels in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python


@dataclass(frozen=True)
class Envelope:
    type: str
    payload: dict[str, Any]
    occurred_at: datetime
    version: int = 1
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": self.correlation_id,
            "causation_id": str(self.causation_id) if self.causation_id else None,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Envelope:
        return cls(
            id=uuid.UUID(str(data["id"])),
            type=data["type"],
            version=int(data["version"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            correlation_id=data.get("correlation_id"),
            causation_id=uuid.UUID(str(data["causation_id"])) if data.get("causation_id") else None,
            payload=data["payload"],
        )


def jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """UUIDs, datetimes and Decimals as strings, so the payload means the same after any transport."""
    return to_jsonable_python(payload)
