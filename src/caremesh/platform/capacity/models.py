"""Columns of a capacity participant's tables, as mixins of its models, and the constraints every one of them has.

- its catalogue entries (`fulfilment.CatalogueEntry`) add `price` and `daily_capacity`;
- a day counter (`DayCounter`) per entry and clinic day: how many slots are taken, under which capacity;
- a booking (`Booking`) per order item: the entry booked on a day, scheduled until the participant finishes it
  (results, a report) or the order closes (cancelled);
- its record of each order (`BookedOrder`), the lock that serialises the order's steps.

Each model names its entry column itself (`lab_test_id`, `imaging_study_id`, a foreign key to its catalogue).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Index, Integer, SmallInteger, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.capacity.rules import CANCELLED, SCHEDULED
from caremesh.platform.db import UTCDateTime, new_id, quoted_list
from caremesh.platform.fulfilment import ParticipantOrder
from caremesh.platform.money import cents_sql


def entry_checks() -> tuple[CheckConstraint, ...]:
    """A catalogue entry's price and capacity are never negative."""
    return (
        CheckConstraint(f"{cents_sql('price')} >= 0", name="price_not_negative"),
        CheckConstraint("daily_capacity >= 0", name="daily_capacity_not_negative"),
    )


class DayCounter:
    """The bookings of one entry on one clinic day. A booking takes a slot with one conditional upsert that also
    records the capacity it was taken under; the CHECK (`day_counter_checks`) refuses any count above it, whatever
    the code does. Lowering an entry's capacity leaves the rows alone: bookings stay, no new one fits."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)  # the entry's daily capacity when a slot was last taken


def day_counter_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        CheckConstraint("booked <= capacity", name="within_capacity"),
    )


class Booking:
    """One item of a clinical order, booked on a day: scheduled, then done (the participant's word) or cancelled.
    The order and the patient belong to other contexts."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(SmallInteger)  # the item's place in the order, from 1
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    scheduled_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    order_confirmed: Mapped[bool] = mapped_column(Boolean)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def booking_table_args(table: str, done: str, *, done_iff: tuple[str, str]) -> tuple[Any, ...]:
    """The constraints and indexes of a bookings table whose finished state is `done`; `done_iff` names the CHECK
    and gives its SQL, which holds exactly when a booking holds what finishing it records."""
    done_iff_name, done_iff_sql = done_iff
    statuses: Iterable[str] = (SCHEDULED, done, CANCELLED)
    return (
        CheckConstraint(f"status IN ({quoted_list(statuses)})", name="status_known"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint(f"(status = '{done}') = ({done_iff_sql})", name=done_iff_name),
        CheckConstraint(f"status <> '{done}' OR order_confirmed", name=f"{done}_only_when_confirmed"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at_iff_cancelled"),
        UniqueConstraint("order_id", "position"),
        Index(f"ix_{table}_patient_created", "patient_id", "created_at", "id"),
        Index(f"ix_{table}_created", "created_at", "id"),
    )


class BookedOrder(ParticipantOrder):
    """What a capacity participant knows of a clinical order beyond its bookings: confirmed, closed (failed,
    cancelled, or refused for want of capacity) with why. Closed, an `order.placed` that arrives late books nothing."""

    close_reason: Mapped[str | None] = mapped_column(String(40))


def booked_order_checks() -> tuple[CheckConstraint, ...]:
    return (CheckConstraint("(closed_at IS NULL) = (close_reason IS NULL)", name="closed_with_reason"),)
