from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.audit.domain import GENESIS_HASH
from caremesh.platform.db import Base, UTCDateTime, partial_index

__all__ = ["GENESIS_HASH", "AuditChainHead", "AuditEvent"]

BigId = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(Base):
    """Inserted unsealed (`seq`, `prev_hash`, `hash` null) by the transaction that records it; the sealer chains it
    shortly after commit. Database triggers refuse DELETE, and every UPDATE except that one transition: unsealed to
    sealed, nothing else changed (see migration 0020)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_actor", "actor_id"),
        partial_index("ix_audit_events_unsealed", "position", where="seq IS NULL"),
        CheckConstraint(
            "(seq IS NULL) = (prev_hash IS NULL) AND (seq IS NULL) = (hash IS NULL)", name="sealed_together"
        ),
    )

    # Insertion order: the sealer chains committed events in this order.
    position: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    # Chain order, 1, 2, 3 … without gaps; null until sealed.
    seq: Mapped[int | None] = mapped_column(BigId, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row: the last sealed sequence number and hash. Only the sealer locks it (FOR UPDATE), to seal."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
