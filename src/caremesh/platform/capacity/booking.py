"""Booking catalogue entries on clinic days within their daily capacity, as a participant of the order saga (see
`platform.fulfilment`): lab books lab tests, imaging books imaging studies, the same way.

  order.placed                    book every item, in its order, each on the first day of the booking window with
                                  a free slot; all or nothing: a refusal gives back what was booked for the order in
                                  the same transaction and closes it  ─► scheduled | refused
  order.confirmed                 the order's bookings may be finished (resulted, reported)
  order.failed, order.cancelled   cancel the scheduled bookings, free their slots, close the order ─► cancelled
                                  (when something was)
  finishing a booking             once, for a scheduled booking of a confirmed order; says whether it was the
                                  order's last one standing

An entry's bookings per day never exceed its capacity: each slot is taken by one conditional upsert of the (entry,
day) counter row, whose CHECK refuses any count above the capacity it was taken under. The steps of one order are
serialised by the lock on the participant's row for the order (`BookedOrder`). The participant names its events
(`Announcements`), which are built here, and says what finishing records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import structlog
from sqlalchemy import select, update

from caremesh.platform import fulfilment
from caremesh.platform.capacity import rules
from caremesh.platform.capacity.models import BookedOrder, Booking, DayCounter
from caremesh.platform.db import dialect_insert
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.timeutil import clinic_date

if TYPE_CHECKING:
    from caremesh.platform.repository import Recorder
    from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.capacity")


class Bookable(Protocol):
    """A catalogue entry that can be booked: what a booking needs of it."""

    id: Any
    daily_capacity: Any


EntryT = TypeVar("EntryT", bound=Bookable)
BookingT = TypeVar("BookingT", bound=Booking)
KnownT = TypeVar("KnownT", bound=BookedOrder)


class DayCapacity:
    """The day counters of one participant: `model` (a `DayCounter`) keyed by its `entry` column and the day."""

    def __init__(self, model: type[DayCounter], entry: str) -> None:
        self.model, self.entry = model, entry
        self._entry_column = getattr(model, entry)

    async def take(self, uow: UnitOfWork, entry: Bookable, day: date) -> bool:
        """Book one slot of `entry` on `day` if one is free under its capacity now: one statement, safe under
        concurrency (the upsert locks the day's row; a competing booking waits and then sees the new count)."""
        capacity = entry.daily_capacity
        if capacity <= 0:
            return False  # the insert would break the CHECK: no day has room
        model = self.model
        statement = dialect_insert(uow.session)(model).values(
            {self.entry: entry.id, "day": day, "booked": 1, "capacity": capacity}
        )
        statement = statement.on_conflict_do_update(
            index_elements=[self._entry_column, model.day],
            set_={"booked": model.booked + 1, "capacity": statement.excluded.capacity},
            where=model.booked < statement.excluded.capacity,
        ).returning(model.booked)
        return await uow.session.scalar(statement) is not None

    async def give_back(self, uow: UnitOfWork, entry_id: uuid.UUID, day: date) -> None:
        model = self.model
        await uow.session.execute(
            update(model)
            .where(self._entry_column == entry_id, model.day == day, model.booked > 0)
            .values(booked=model.booked - 1)
        )

    async def book(self, uow: UnitOfWork, entry: Bookable, window: Sequence[date]) -> date | None:
        """The first day of `window` on which a slot of `entry` was taken, or None when every day is full."""
        model = self.model
        rows = await uow.session.execute(
            select(model.day, model.booked).where(
                self._entry_column == entry.id, model.day.between(window[0], window[-1])
            )
        )
        counts = {day: booked for day, booked in rows}
        # Days seen full are skipped; the upsert decides for the others (one may fill meanwhile).
        for day in rules.free_days(window, counts, entry.daily_capacity):
            if await self.take(uow, entry, day):
                return day
        return None


@dataclass(frozen=True, kw_only=True)
class Announcements:
    """How a participant answers the saga: its own event classes, whose fields are named after its bookings
    (`<entity>_id`, and `<entity>s` for a list of them) and its entries (`<entry_column>`):

    - `scheduled`: order_id, patient_id, `<entity>s` (a `scheduled_item` per booking), scheduled_at;
    - `refused`: order_id, patient_id, failure_reason, `<entry_column>` (the entry refused), cancelled (a
      `booked_item` per booking given back), failed_at;
    - `cancelled`: order_id, patient_id, `<entity>s` (a `booked_item` per booking cancelled), reason, cancelled_at;
    - `booked_item`: `<entity>_id`, `<entry_column>`, scheduled_date;
    - `scheduled_item`: the same, and the booked entry's columns of its other fields' names (code, name, price...).

    (What finishing a booking announces is named where it is finished: see `CapacityBookings.finish`.)
    """

    scheduled: type[IntegrationEvent]
    refused: type[IntegrationEvent]
    cancelled: type[IntegrationEvent]
    booked_item: type[Any]
    scheduled_item: type[Any]


class CapacityBookings(Generic[EntryT, BookingT, KnownT]):
    """A participant's bookings: `entry_column` names the entry in its `bookings` and `days` models; `done` is its
    word for a finished booking; `no_capacity` and `not_found` are its failure reasons; `entity` its bookings'
    audit entity (`<entity>.schedule`, `<entity>.cancel`)."""

    def __init__(
        self,
        *,
        catalogue: type[EntryT],
        days: type[DayCounter],
        bookings: type[BookingT],
        known: type[KnownT],
        entry_column: str,
        done: str,
        no_capacity: str,
        not_found: str,
        entity: str,
        record: Recorder,
        announce: Announcements,
    ) -> None:
        self.catalogue, self.bookings, self.known = catalogue, bookings, known
        self.capacity = DayCapacity(days, entry_column)
        self.entry_column, self.done = entry_column, done
        self.no_capacity, self.not_found = no_capacity, not_found
        self.entity, self.record, self.announce = entity, record, announce

    def entry_of(self, booking: BookingT) -> uuid.UUID:
        entry_id: uuid.UUID = getattr(booking, self.entry_column)
        return entry_id

    def participant(self, *, consumer: str, order_type: str) -> fulfilment.Participant:
        """The participant's part in the order saga for `order_type`, its consumer named `consumer`: each item of
        an order.placed names an entry by `<entry_column>`; order.failed and order.cancelled close the order with
        the event's name as the reason."""
        entry_column = self.entry_column

        async def take(uow: UnitOfWork, event: Any, envelope: Any) -> None:
            entries = [getattr(item, entry_column) for item in event.items]
            await self.schedule(uow, event.order_id, event.patient_id, entries)

        async def confirm(uow: UnitOfWork, event: Any, envelope: Any) -> None:
            await self.confirm(uow, event.order_id)

        async def give_back(uow: UnitOfWork, event: Any, envelope: Any) -> None:
            await self.close(uow, event.order_id, event.patient_id, event.event_type)

        return fulfilment.Participant(
            consumer=consumer, order_type=order_type, take=take, confirm=confirm, give_back=give_back
        )

    # --- the answers ---------------------------------------------------------------------------------------

    def _booked(self, booking: BookingT) -> dict[str, Any]:
        return {
            f"{self.entity}_id": booking.id,
            self.entry_column: self.entry_of(booking),
            "scheduled_date": booking.scheduled_date,
        }

    def _booked_items(self, bookings: Sequence[BookingT]) -> tuple[Any, ...]:
        return tuple(self.announce.booked_item(**self._booked(b)) for b in bookings)

    def _scheduled_item(self, booking: BookingT, entry: EntryT) -> Any:
        own = self._booked(booking)
        item = self.announce.scheduled_item
        return item(**own, **{f.name: getattr(entry, f.name) for f in fields(item) if f.name not in own})

    async def lock(self, uow: UnitOfWork, order_id: uuid.UUID) -> KnownT:
        """The order's row, created if new, locked until the transaction ends."""
        return await fulfilment.lock_order(uow, self.known, order_id)

    async def of_order(self, uow: UnitOfWork, order_id: uuid.UUID) -> list[BookingT]:
        return await fulfilment.items_of(uow, self.bookings, order_id)

    # --- the saga's steps ------------------------------------------------------------------------------

    async def schedule(
        self, uow: UnitOfWork, order_id: uuid.UUID, patient_id: uuid.UUID, entry_ids: Sequence[uuid.UUID]
    ) -> None:
        """Book every entry of the order, in its item order, each on the first day with a free slot within the
        booking window; all or nothing. Announces scheduled, or refused after giving back what was booked. Books
        and announces nothing for an order already closed or already booked."""
        known = await self.lock(uow, order_id)
        if known.closed_at is not None:
            log.info("placed_after_close", entity=self.entity, order_id=str(order_id), reason=known.close_reason)
            return
        if await self.of_order(uow, order_id):
            return  # booked by an earlier delivery of this order
        now = uow.now()
        window = rules.booking_window(clinic_date(now))
        model = self.catalogue
        found = await uow.session.scalars(select(model).where(model.id.in_(set(entry_ids))))  # type: ignore[attr-defined]
        entries: dict[uuid.UUID, EntryT] = {e.id: e for e in found}
        booked: list[tuple[BookingT, EntryT]] = []
        for position, entry_id in enumerate(entry_ids, start=1):
            entry = entries.get(entry_id)
            day = None if entry is None else await self.capacity.book(uow, entry, window)
            if entry is None or day is None:
                failure = self.not_found if entry is None else self.no_capacity
                await self._refuse(uow, known, patient_id, [b for b, _ in booked], failure, entry_id)
                return
            booking = self.bookings(
                **{self.entry_column: entry_id},
                order_id=order_id,
                position=position,
                patient_id=patient_id,
                scheduled_date=day,
                status=rules.SCHEDULED,
                order_confirmed=known.confirmed_at is not None,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(booking)
            booked.append((booking, entry))
        await uow.session.flush()
        uow.publish(
            self.announce.scheduled(
                order_id=order_id,
                patient_id=patient_id,
                **{f"{self.entity}s": tuple(self._scheduled_item(b, e) for b, e in booked)},
                scheduled_at=now,
            )
        )
        for booking, _ in booked:
            self.record(uow, f"{self.entity}.schedule", self.entity, booking.id)

    async def _refuse(
        self,
        uow: UnitOfWork,
        known: KnownT,
        patient_id: uuid.UUID,
        booked: list[BookingT],
        failure: str,
        entry_id: uuid.UUID,
    ) -> None:
        """Give back what was booked for the order, close it and announce the refusal."""
        await uow.session.flush()
        cancelled = await self._cancel(uow, booked, failure)
        now = uow.now()
        known.closed_at, known.close_reason = now, failure
        await uow.session.flush()
        uow.publish(
            self.announce.refused(
                order_id=known.order_id,
                patient_id=patient_id,
                failure_reason=failure,
                **{self.entry_column: entry_id},
                cancelled=self._booked_items(cancelled),
                failed_at=now,
            )
        )
        log.info("scheduling_failed", entity=self.entity, order_id=str(known.order_id), failure_reason=failure)

    async def _cancel(self, uow: UnitOfWork, bookings: Sequence[BookingT], reason: str) -> list[BookingT]:
        """Cancel the scheduled ones and free their slots; returns those cancelled."""
        now = uow.now()
        cancelled = [b for b in bookings if b.status == rules.SCHEDULED]
        for booking in cancelled:
            booking.status = rules.CANCELLED
            booking.cancelled_at = booking.updated_at = now
            booking.cancel_reason = reason
            await self.capacity.give_back(uow, self.entry_of(booking), booking.scheduled_date)
        await uow.session.flush()
        return cancelled

    async def confirm(self, uow: UnitOfWork, order_id: uuid.UUID) -> None:
        """The order is confirmed: its bookings may be finished."""
        known = await self.lock(uow, order_id)
        if known.confirmed_at is None:
            known.confirmed_at = uow.now()
        model = self.bookings
        await uow.session.execute(
            update(model).where(model.order_id == order_id).values(order_confirmed=True, updated_at=uow.now())
        )
        await uow.session.flush()

    async def close(self, uow: UnitOfWork, order_id: uuid.UUID, patient_id: uuid.UUID, reason: str) -> None:
        """The order failed or was cancelled: cancel its scheduled bookings (finished ones stay), free their slots,
        announce it when something was cancelled, and remember the order is closed."""
        now = uow.now()
        await fulfilment.close_order(uow, self.known, order_id, now, close_reason=reason)
        cancelled = await self._cancel(uow, await self.of_order(uow, order_id), reason)
        await uow.session.flush()
        if not cancelled:
            return
        uow.publish(
            self.announce.cancelled(
                order_id=order_id,
                patient_id=patient_id,
                **{f"{self.entity}s": self._booked_items(cancelled)},
                reason=reason,
                cancelled_at=now,
            )
        )
        for booking in cancelled:
            self.record(uow, f"{self.entity}.cancel", self.entity, booking.id)

    # --- finishing a booking ---------------------------------------------------------------------------

    async def finish(
        self,
        uow: UnitOfWork,
        booking: BookingT,
        refuse: Callable[[rules.Refusal], Exception],
        record_done: Callable[[BookingT, datetime], None],
        *,
        announce: type[IntegrationEvent],
        action: str,
    ) -> BookingT:
        """Finish a scheduled booking of a confirmed order, once (`refuse(why)` is raised otherwise):
        `record_done(booking, now)` sets what the participant records. Publishes `announce` (`<entity>_id`,
        order_id, patient_id, `<entry_column>`, `order_fully_<done>`: no booking of the order is left to finish,
        `<done>_at`) and records `<entity>.<action>`."""
        await self.lock(uow, booking.order_id)  # one step of the order at a time
        siblings = await self.of_order(uow, booking.order_id)
        booking = next(b for b in siblings if b.id == booking.id)
        why = rules.refusal(booking.status, done=self.done, order_confirmed=booking.order_confirmed)
        if why is not None:
            raise refuse(why)
        now = uow.now()
        record_done(booking, now)
        booking.status = self.done
        booking.updated_at = now
        await uow.session.flush()
        finished = {
            f"{self.entity}_id": booking.id,
            "order_id": booking.order_id,
            "patient_id": booking.patient_id,
            self.entry_column: self.entry_of(booking),
            f"order_fully_{self.done}": rules.all_done((b.status for b in siblings), done=self.done),
            f"{self.done}_at": now,
        }
        uow.publish(announce(**finished))
        self.record(uow, f"{self.entity}.{action}", self.entity, booking.id)
        return booking
