from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.lab.domain import LabOrderStatus
from caremesh.platform.db import Base, Money, UTCDateTime, new_id
from caremesh.platform.fulfilment import CatalogueEntry, ParticipantOrder
from caremesh.platform.money import cents_sql

# Names the errors of these constraints carry (see `platform.db.violates`).
ONE_LAB_TEST_PER_CODE = "uq_lab_tests_code"
ONE_LAB_ORDER_PER_ITEM = "uq_lab_orders_order_id_position"
WITHIN_CAPACITY = "ck_lab_test_days_within_capacity"


class LabTest(CatalogueEntry, Base):
    """A test of the catalogue: its price (in `currency`, the clinic's when created) and how many may be
    booked per day."""

    __tablename__ = "lab_tests"
    __table_args__ = (
        CheckConstraint(f"{cents_sql('price')} >= 0", name="price_not_negative"),
        CheckConstraint("daily_capacity >= 0", name="daily_capacity_not_negative"),
    )

    loinc: Mapped[str | None] = mapped_column(String(10))
    price: Mapped[Decimal] = mapped_column(Money)
    daily_capacity: Mapped[int] = mapped_column(Integer)


class LabTestDay(Base):
    """The bookings of one test on one clinic day. A booking takes a slot with one conditional upsert that
    also records the capacity it was taken under; the CHECK refuses any count above it, whatever the code does.
    Lowering a test's capacity leaves the rows alone: bookings stay, and no new one fits under the new capacity."""

    __tablename__ = "lab_test_days"
    __table_args__ = (
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        CheckConstraint("booked <= capacity", name="within_capacity"),
    )

    lab_test_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("lab.lab_tests.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)  # the test's daily capacity when a slot was last taken


class LabOrder(Base):
    """One test of a clinical order, booked on a day. The order and the patient belong to other contexts."""

    __tablename__ = "lab_orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in LabOrderStatus)})", name="status_known"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint(
            "(status = 'resulted') = (results IS NOT NULL AND resulted_at IS NOT NULL)", name="results_iff_resulted"
        ),
        CheckConstraint("status <> 'resulted' OR order_confirmed", name="resulted_only_when_confirmed"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at_iff_cancelled"),
        UniqueConstraint("order_id", "position"),
        Index("ix_lab_orders_patient_created", "patient_id", "created_at", "id"),
        Index("ix_lab_orders_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(SmallInteger)  # the item's place in the order, from 1
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    lab_test_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("lab.lab_tests.id"), index=True)
    scheduled_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    order_confirmed: Mapped[bool] = mapped_column(Boolean)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    resulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resulted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LabKnownOrder(ParticipantOrder, Base):
    """What lab knows of a clinical order beyond its lab orders: confirmed, closed (failed, cancelled, or
    refused for want of capacity). Closed, an `order.placed` that arrives late books nothing. Every handler
    and every result takes this row's lock first, so the steps of one order never interleave."""

    __tablename__ = "lab_known_orders"
    __table_args__ = (CheckConstraint("(closed_at IS NULL) = (close_reason IS NULL)", name="closed_with_reason"),)

    close_reason: Mapped[str | None] = mapped_column(String(40))
