from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caremesh.orders.domain import OrderStatus, OrderType, Step, StepKind
from caremesh.platform.db import Base, UTCDateTime, new_id, quoted_list


class Order(Base):
    """A prescription, lab or imaging order and where its saga stands. Patient, practitioner, invoice, medications,
    lab tests and imaging studies belong to other contexts: ids only, no foreign keys."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"type IN ({quoted_list(OrderType)})", name="type_known"),
        CheckConstraint(f"status IN ({quoted_list(OrderStatus)})", name="status_known"),
        CheckConstraint("(status = 'failed') = (failure_reason IS NOT NULL)", name="failure_reason_iff_failed"),
        CheckConstraint(
            "status NOT IN ('confirmed', 'completed') OR invoice_id IS NOT NULL", name="confirmed_invoiced"
        ),
        Index("ix_orders_patient_number", "patient_id", "number"),
        Index("ix_orders_pending_since", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    notes: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # failed, cancelled or completed

    items: Mapped[list[OrderItem]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="OrderItem.position"
    )

    __mapper_args__ = {"version_id_col": version}


# An item names exactly one of a medication (with its quantity), a lab test or an imaging study.
ORDER_ITEM_KINDS = (
    "(medication_id IS NOT NULL AND quantity >= 1 AND lab_test_id IS NULL AND imaging_study_id IS NULL)"
    " OR (lab_test_id IS NOT NULL AND medication_id IS NULL AND quantity IS NULL AND dosage IS NULL"
    " AND imaging_study_id IS NULL)"
    " OR (imaging_study_id IS NOT NULL AND medication_id IS NULL AND quantity IS NULL AND dosage IS NULL"
    " AND lab_test_id IS NULL)"
)


class OrderItem(Base):
    """A medication with its quantity (prescriptions), a lab test (lab orders) or an imaging study (imaging
    orders)."""

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint(
            ORDER_ITEM_KINDS,
            name="medication_or_lab_test",
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.orders.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    medication_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    quantity: Mapped[int | None] = mapped_column(Integer)
    dosage: Mapped[str | None] = mapped_column(String(200))
    lab_test_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    imaging_study_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class OrderEvent(Base):
    """One recorded step or compensation of an order's saga, numbered per order."""

    __tablename__ = "order_events"
    __table_args__ = (
        CheckConstraint(f"step IN ({quoted_list(Step)})", name="step_known"),
        CheckConstraint(f"kind IN ({quoted_list(StepKind)})", name="kind_known"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("orders.orders.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The event that caused this step (another context's answer), or None for requests and timeouts.
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
