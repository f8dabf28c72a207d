from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.lab.domain import LabOrderStatus
from caremesh.platform.capacity.models import (
    BookedOrder,
    Booking,
    DayCounter,
    booked_order_checks,
    booking_table_args,
    day_counter_checks,
    entry_checks,
)
from caremesh.platform.db import Base, Money, UTCDateTime
from caremesh.platform.fulfilment import CatalogueEntry

# Names the errors of these constraints carry (see `platform.db.violates`).
ONE_LAB_TEST_PER_CODE = "uq_lab_tests_code"
ONE_LAB_ORDER_PER_ITEM = "uq_lab_orders_order_id_position"
WITHIN_CAPACITY = "ck_lab_test_days_within_capacity"


class LabTest(CatalogueEntry, Base):
    """A test of the catalogue: its price (in `currency`, the clinic's when created) and how many may be
    booked per day."""

    __tablename__ = "lab_tests"
    __table_args__ = entry_checks()

    loinc: Mapped[str | None] = mapped_column(String(10))
    price: Mapped[Decimal] = mapped_column(Money)
    daily_capacity: Mapped[int] = mapped_column(Integer)


class LabTestDay(DayCounter, Base):
    """The bookings of one test on one clinic day (see `DayCounter`)."""

    __tablename__ = "lab_test_days"
    __table_args__ = day_counter_checks()

    lab_test_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("lab.lab_tests.id", ondelete="CASCADE"), primary_key=True
    )


class LabOrder(Booking, Base):
    """One test of a clinical order, booked on a day (see `Booking`), resulted with its values."""

    __tablename__ = "lab_orders"
    __table_args__ = booking_table_args(
        "lab_orders",
        LabOrderStatus.RESULTED,
        done_iff=("results_iff_resulted", "results IS NOT NULL AND resulted_at IS NOT NULL"),
    )

    lab_test_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("lab.lab_tests.id"), index=True)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    resulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resulted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class LabKnownOrder(BookedOrder, Base):
    """What lab knows of a clinical order beyond its lab orders (see `BookedOrder`). Every handler and every result
    takes this row's lock first, so the steps of one order never interleave."""

    __tablename__ = "lab_known_orders"
    __table_args__ = booked_order_checks()
