"""The table of Idempotency-Keys, shared by every operation that honours the header."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base, UTCDateTime, new_id, partial_index


class IdempotencyKey(Base):
    """One row per (scope, principal, key): the unique constraint is what lets exactly one of many
    concurrent requests with a key do the work. `scope` is the operation (`POST /api/v1/orders`; payments
    and refunds share `payments`). `attempt` counts claims; the response is stored once the outcome is
    final, and replayed from here: as a JSON document (`response_body`, payments) or as the bytes sent
    with their headers (`response_text`, `response_headers`, every other operation)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "principal_id", "key"),
        CheckConstraint("state IN ('in_progress', 'completed', 'released')", name="state_known"),
        CheckConstraint(
            "(state = 'completed') = (response_status IS NOT NULL"
            " AND (response_body IS NOT NULL OR response_text IS NOT NULL))",
            name="response_when_completed",
        ),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        # The resolver of abandoned payment attempts polls unfinished keys: a partial index keeps that cheap
        # however many finished keys accumulate.
        partial_index("ix_idempotency_keys_in_progress", "scope", "claimed_at", where="state = 'in_progress'"),
        Index("ix_idempotency_keys_created_at", "created_at"),  # retention
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(200))
    principal_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(Integer)
    # What the current attempt created (payments: the pending payment or refund until its outcome is stored).
    resource_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    response_text: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
