"""Medications with their stock, pharmacy's record of each order it heard of, and reservations per order item.

Orders and patients belong to other contexts: ids only, no foreign keys. The CHECK constraints keep
`0 <= reserved_quantity <= stock_quantity` whatever the code does; every change of the quantities is a
conditional UPDATE (see service.py), never a value computed in Python and written back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Integer, SmallInteger, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caremesh.orders.contract import CLOSING_EVENTS
from caremesh.pharmacy.domain import FailureReason, ReservationStatus
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, quoted_list
from caremesh.platform.fulfilment import CatalogueEntry, ParticipantOrder
from caremesh.platform.money import cents_sql as cents

MEDICATION_CODE_UNIQUE = "uq_medications_code"
ONE_RESERVATION_PER_ITEM = "uq_medication_reservations_order_id_position"


class Medication(CatalogueEntry, Base):
    """A stocked medication. `reserved_quantity` is held for orders not yet dispensed; available is the rest."""

    __tablename__ = "medications"
    __table_args__ = (
        CheckConstraint("stock_quantity >= 0", name="stock_not_negative"),
        CheckConstraint("reserved_quantity >= 0 AND reserved_quantity <= stock_quantity", name="reserved_within_stock"),
        CheckConstraint(f"{cents('unit_price')} >= 0", name="unit_price_not_negative"),
        Index("ix_medications_name_id", "name", "id"),
    )

    unit: Mapped[str] = mapped_column(String(40))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    stock_quantity: Mapped[int] = mapped_column(Integer)
    reserved_quantity: Mapped[int] = mapped_column(Integer)

    @property
    def available_quantity(self) -> int:
        return self.stock_quantity - self.reserved_quantity


class PharmacyOrder(ParticipantOrder, Base):
    """What pharmacy knows of an order: whom it is for, whether it is confirmed (its reservations may be
    dispensed), whether it is closed (failed or cancelled: nothing is reserved for it any more, even when its
    order.placed arrives late). Its row is also the lock that serialises the order's events in pharmacy."""

    __tablename__ = "pharmacy_orders"
    __table_args__ = (
        CheckConstraint(f"closed_by IN ({quoted_list(CLOSING_EVENTS)})", name="closed_by_known"),
        CheckConstraint("(closed_at IS NULL) = (closed_by IS NULL)", name="closed_with_cause"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    closed_by: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reservation(Base):
    """One order item's claim on a medication's stock; `position` is the item's place in the order (from 1).
    A failed reservation names the medication asked for, which may not exist: no foreign key."""

    __tablename__ = "medication_reservations"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint(f"status IN ({quoted_list(ReservationStatus)})", name="status_known"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("(status = 'failed') = (failure_reason IS NOT NULL)", name="failure_reason_iff_failed"),
        CheckConstraint(f"failure_reason IN ({quoted_list(FailureReason)})", name="failure_reason_known"),
        CheckConstraint("(status = 'dispensed') = (dispensed_at IS NOT NULL)", name="dispensed_at_iff_dispensed"),
        CheckConstraint("(status = 'released') = (released_at IS NOT NULL)", name="released_at_iff_released"),
        Index("ix_medication_reservations_created", "created_at", "order_id", "position"),
        Index("ix_medication_reservations_medication", "medication_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(SmallInteger)
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    medication_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispensed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Pharmacy's record of the reservation's order (the same context's table, joined by order id, no foreign key):
    # loaded with the reservation, so `order_confirmed` is always at hand.
    order: Mapped[PharmacyOrder | None] = relationship(
        primaryjoin="foreign(Reservation.order_id) == PharmacyOrder.order_id", viewonly=True, lazy="selectin"
    )

    @property
    def order_confirmed(self) -> bool:
        """Its order is confirmed: a `reserved` reservation may be dispensed."""
        return self.order is not None and self.order.confirmed_at is not None
