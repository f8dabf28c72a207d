from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.imaging.domain import ImagingOrderStatus, Modality
from caremesh.platform.capacity.models import (
    BookedOrder,
    Booking,
    DayCounter,
    booked_order_checks,
    booking_table_args,
    day_counter_checks,
    entry_checks,
)
from caremesh.platform.db import Base, Money, UTCDateTime, quoted_list
from caremesh.platform.fulfilment import CatalogueEntry

# Names the errors of these constraints carry (see `platform.db.violates`).
ONE_STUDY_PER_CODE = "uq_imaging_studies_code"


class ImagingStudy(CatalogueEntry, Base):
    """A study of the catalogue: its modality, its price (in `currency`, the clinic's when created) and how many
    may be booked per day."""

    __tablename__ = "imaging_studies"
    __table_args__ = (
        *entry_checks(),
        CheckConstraint(f"modality IN ({quoted_list(Modality)})", name="modality_known"),
    )

    modality: Mapped[str] = mapped_column(String(2))
    price: Mapped[Decimal] = mapped_column(Money)
    daily_capacity: Mapped[int] = mapped_column(Integer)


class ImagingStudyDay(DayCounter, Base):
    """The bookings of one study on one clinic day (see `DayCounter`)."""

    __tablename__ = "imaging_study_days"
    __table_args__ = day_counter_checks()

    imaging_study_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("imaging.imaging_studies.id", ondelete="CASCADE"), primary_key=True
    )


class ImagingOrder(Booking, Base):
    """One study of a clinical order, booked on a day (see `Booking`), reported with findings and an impression."""

    __tablename__ = "imaging_orders"
    __table_args__ = booking_table_args(
        "imaging_orders",
        ImagingOrderStatus.REPORTED,
        done_iff=("report_iff_reported", "findings IS NOT NULL AND impression IS NOT NULL AND reported_at IS NOT NULL"),
    )

    imaging_study_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("imaging.imaging_studies.id"), index=True)
    findings: Mapped[str | None] = mapped_column(Text)
    impression: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    @property
    def report(self) -> dict[str, Any] | None:
        """The report as the API shows it, once reported."""
        if self.reported_at is None:
            return None
        return {
            "findings": self.findings,
            "impression": self.impression,
            "reported_at": self.reported_at,
            "reported_by": self.reported_by,
        }


class ImagingKnownOrder(BookedOrder, Base):
    """What imaging knows of a clinical order beyond its imaging orders (see `BookedOrder`): its lock."""

    __tablename__ = "imaging_known_orders"
    __table_args__ = booked_order_checks()
