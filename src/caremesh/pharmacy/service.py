"""Pharmacy use cases: the medication catalogue and its stock, reservations per order item, dispensing.

Every use case takes the unit of work and flushes; the entrypoint (a route or a consumer) commits.
Stock never goes below what is reserved: each change of `stock_quantity` or `reserved_quantity` is one
conditional UPDATE whose WHERE clause says when it may happen (the database decides, under its row lock),
and the CHECK constraints refuse anything else. A transaction that touches several medications locks them
first, sorted by id, so two such transactions on PostgreSQL wait for each other instead of deadlocking.
Every transaction takes its locks in one order: the order's row in `pharmacy_orders`, its reservations, then
medications.

The saga's steps (consumers in handlers.py) run one transaction per event, serialised per order by the
order's row in `pharmacy_orders`:

  order.placed     reserve every item, all or nothing   ─► medication.reserved | medication.reservation_failed
  order.confirmed  the order's reservations may be dispensed
  order.failed,
  order.cancelled  release what is still reserved       ─► medication.released (when something was)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select, update

from caremesh.audit import contract as audit
from caremesh.orders import contract as orders
from caremesh.pharmacy import domain, events
from caremesh.pharmacy.domain import FailureReason, ReservationStatus
from caremesh.pharmacy.errors import (
    MedicationCodeExists,
    MedicationNotFound,
    ReservationNotDispensable,
    ReservationNotFound,
)
from caremesh.pharmacy.models import MEDICATION_CODE_UNIQUE, Medication, PharmacyOrder, Reservation
from caremesh.pharmacy.schemas import MedicationCreate
from caremesh.platform import fulfilment
from caremesh.platform.errors import VersionConflict
from caremesh.platform.mapping import from_attributes
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.repository import Repository
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.pharmacy")


# --- errors --------------------------------------------------------------------------


CATALOGUE: fulfilment.Catalogue[Medication] = fulfilment.Catalogue(
    Medication,
    MedicationNotFound,
    entity="medication",
    record=audit.record,
    order_by=[Medication.name, Medication.id],
    search=[Medication.name],
    code_taken=lambda code: MedicationCodeExists(f"A medication with code {code} exists."),
    unique=(MEDICATION_CODE_UNIQUE, "medications.code"),  # PostgreSQL names the constraint, SQLite the column
)

# Staff read reservations (patients hold no `reservations:read`): no owner column confines them.
# A reservation names a patient's medication: reads are traceable per record, as for other patient data.
RESERVATIONS: Repository[Reservation] = audit.repository(
    Reservation,
    ReservationNotFound,
    entity="reservation",
    order_by=[Reservation.created_at, Reservation.order_id, Reservation.position],
)


# --- medications ---------------------------------------------------------------------


async def create_medication(uow: UnitOfWork, data: MedicationCreate) -> Medication:
    """A new medication with its opening stock, nothing reserved."""
    return await CATALOGUE.add(uow, **data.model_dump(), reserved_quantity=0)


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_medication = CATALOGUE.entries.load
list_medications = CATALOGUE.list


async def restock(uow: UnitOfWork, medication_id: uuid.UUID, quantity: int, expected_version: int | None) -> Medication:
    """Add `quantity` to the stock: one UPDATE, so concurrent restocks and reservations all count.
    With `If-Match`, only at that version (412 VERSION_CONFLICT otherwise)."""
    query = update(Medication).where(Medication.id == medication_id)
    if expected_version is not None:
        query = query.where(Medication.version == expected_version)
    changed = await _execute(
        uow,
        query.values(
            stock_quantity=Medication.stock_quantity + quantity,
            version=Medication.version + 1,
            updated_at=uow.now(),
        ),
    )
    medication = await CATALOGUE.entries.load(uow, medication_id, for_update=True)  # re-read after the UPDATE
    if not changed:
        raise VersionConflict(f"The medication is at version {medication.version}, not {expected_version}.")
    audit.record(uow, "medication.restock", "medication", medication.id)
    return medication


async def _execute(uow: UnitOfWork, statement: Any) -> int:
    """Run a conditional UPDATE; returns how many rows it changed. Objects already in the session are
    not refreshed (reload with populate_existing)."""
    result = await uow.session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount  # type: ignore[attr-defined]


def _take(medication_id: uuid.UUID, quantity: int, now: datetime) -> Any:
    """Reserve `quantity` if that much is available."""
    return (
        update(Medication)
        .where(Medication.id == medication_id, Medication.stock_quantity - Medication.reserved_quantity >= quantity)
        .values(
            reserved_quantity=Medication.reserved_quantity + quantity, version=Medication.version + 1, updated_at=now
        )
    )


def _give_back(medication_id: uuid.UUID, quantity: int, now: datetime) -> Any:
    """Release `quantity` of what is reserved."""
    return (
        update(Medication)
        .where(Medication.id == medication_id, Medication.reserved_quantity >= quantity)
        .values(
            reserved_quantity=Medication.reserved_quantity - quantity, version=Medication.version + 1, updated_at=now
        )
    )


def _hand_out(medication_id: uuid.UUID, quantity: int, now: datetime) -> Any:
    """Dispense `quantity` that is reserved: it leaves the stock and the reserved quantity together."""
    return (
        update(Medication)
        .where(Medication.id == medication_id, Medication.reserved_quantity >= quantity)
        .values(
            stock_quantity=Medication.stock_quantity - quantity,
            reserved_quantity=Medication.reserved_quantity - quantity,
            version=Medication.version + 1,
            updated_at=now,
        )
    )


async def _lock_medications(uow: UnitOfWork, medication_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Medication]:
    """Lock the medications (those that exist), sorted by id: the one order every transaction takes them in."""
    ids = domain.lock_order(medication_ids)
    if not ids:
        return {}
    rows = await uow.session.scalars(
        select(Medication)
        .where(Medication.id.in_(ids))
        .order_by(Medication.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


# --- reservations --------------------------------------------------------------------


get_reservation = RESERVATIONS.get
list_reservations = RESERVATIONS.list


async def _order_reservations(uow: UnitOfWork, order_id: uuid.UUID, *, for_update: bool = False) -> list[Reservation]:
    return await fulfilment.items_of(uow, Reservation, order_id, for_update=for_update)


async def dispense(uow: UnitOfWork, reservation_id: uuid.UUID) -> Reservation:
    """Hand a reserved quantity out: off the stock and off the reserved quantity. Only a `reserved` reservation
    of a confirmed order (409 RESERVATION_NOT_DISPENSABLE, saying why, otherwise). Publishes medication.dispensed,
    with `order_fully_dispensed` when every reservation of the order still standing is dispensed.

    The order's row is locked first: dispenses of one order run one after the other, so the last one sees the
    others and says the order is fully dispensed (two at once would each see the other still reserved)."""
    found = await RESERVATIONS.load(uow, reservation_id)
    order = await _lock_order(uow, found.order_id)
    # never missing: reservations are never deleted, and this one was found above
    reservation = await RESERVATIONS.load(uow, reservation_id, for_update=True)
    refusal = domain.dispense_refusal(
        ReservationStatus(reservation.status), order_confirmed=order is not None and order.confirmed_at is not None
    )
    if refusal is not None:
        raise ReservationNotDispensable(refusal)
    now = uow.now()
    # The status changes only from `reserved`: of concurrent dispenses of one reservation, one takes the stock.
    claimed = await _execute(
        uow,
        update(Reservation)
        .where(Reservation.id == reservation.id, Reservation.status == ReservationStatus.RESERVED)
        .values(status=ReservationStatus.DISPENSED, dispensed_at=now, updated_at=now),
    )
    if not claimed:
        raise ReservationNotDispensable("The reservation was already dispensed.")
    if not await _execute(uow, _hand_out(reservation.medication_id, reservation.quantity, now)):
        raise RuntimeError(f"reservation {reservation.id} holds more than its medication has reserved")
    reservations = await _order_reservations(uow, reservation.order_id)
    reservation = next(r for r in reservations if r.id == reservation.id)
    uow.publish(
        events.MedicationDispensed(
            order_id=reservation.order_id,
            patient_id=reservation.patient_id,
            reservation_id=reservation.id,
            medication_id=reservation.medication_id,
            quantity=reservation.quantity,
            order_fully_dispensed=domain.fully_dispensed(ReservationStatus(r.status) for r in reservations),
            dispensed_at=now,
        )
    )
    audit.record(uow, "reservation.dispense", "reservation", reservation.id)
    return reservation


# --- the saga's steps ----------------------------------------------------------------


async def _lock_order(uow: UnitOfWork, order_id: uuid.UUID) -> PharmacyOrder | None:
    return await fulfilment.find_locked_order(uow, PharmacyOrder, order_id)


async def _lock_or_create_order(uow: UnitOfWork, order_id: uuid.UUID, patient_id: uuid.UUID) -> PharmacyOrder:
    """The order's row, locked; created when pharmacy hears of the order for the first time."""
    return await fulfilment.lock_order(uow, PharmacyOrder, order_id, patient_id=patient_id, created_at=uow.now())


@dataclass(frozen=True)
class _Item:
    position: int
    medication_id: uuid.UUID
    quantity: int


def _items(event: orders.OrderPlaced) -> list[_Item]:
    return [
        _Item(position=n, medication_id=item.medication_id, quantity=item.quantity)
        for n, item in enumerate(event.items, start=1)
        if isinstance(item, orders.PrescriptionItem)
    ]


async def _reserve_item(uow: UnitOfWork, item: _Item, now: datetime) -> bool:
    """Reserve one item's quantity if that much is available; False when it is not (or there is no such
    medication)."""
    return bool(await _execute(uow, _take(item.medication_id, item.quantity, now)))


async def reserve_for_order(uow: UnitOfWork, event: orders.OrderPlaced, envelope: Envelope) -> None:
    """order.placed (prescriptions): reserve every item, all or nothing, in this one transaction."""
    order_id, patient_id = event.order_id, event.patient_id
    order = await _lock_or_create_order(uow, order_id, patient_id)
    if order.closed_at is not None:
        log.info("order_closed_before_placed", order_id=str(order_id), closed_by=order.closed_by)
        return
    if await _order_reservations(uow, order_id):
        return  # reserved (or refused) before: this is a redelivery under another event id
    items = _items(event)
    medications = await _lock_medications(uow, (i.medication_id for i in items))
    now = uow.now()
    reserved: list[Reservation] = []
    for item in items:
        if not await _reserve_item(uow, item, now):
            await _refuse(uow, order, item, medications, reserved, now)
            return
        reservation = _reservation(order, item, ReservationStatus.RESERVED, now)
        uow.session.add(reservation)
        await uow.session.flush()
        reserved.append(reservation)
    uow.publish(
        events.MedicationReserved(
            order_id=order_id,
            patient_id=patient_id,
            reservations=tuple(_reserved_line(r, medications[r.medication_id]) for r in reserved),
            reserved_at=now,
        )
    )
    audit.record(uow, "reservation.reserve", "order", order_id)


def _reservation(
    order: PharmacyOrder,
    item: _Item,
    status: ReservationStatus,
    now: datetime,
    failure_reason: FailureReason | None = None,
) -> Reservation:
    return Reservation(
        id=uuid.uuid4(),
        order_id=order.order_id,
        position=item.position,
        patient_id=order.patient_id,
        medication_id=item.medication_id,
        quantity=item.quantity,
        status=status,
        failure_reason=failure_reason,
        created_at=now,
        updated_at=now,
    )


def _reserved_line(reservation: Reservation, medication: Medication) -> events.ReservedLine:
    """The medication's code, name, unit and currency, with what the reservation holds at the price to the cent."""
    return from_attributes(
        events.ReservedLine,
        medication,
        reservation_id=reservation.id,
        medication_id=reservation.medication_id,
        quantity=reservation.quantity,
        unit_price=Decimal(f"{medication.unit_price:.2f}"),
    )


async def _refuse(
    uow: UnitOfWork,
    order: PharmacyOrder,
    item: _Item,
    medications: dict[uuid.UUID, Medication],
    reserved: list[Reservation],
    now: datetime,
) -> None:
    """The item cannot be reserved: give back the earlier items, record it as failed, say so. `available` is
    what the item found, before the earlier items were given back."""
    known = medications.get(item.medication_id)
    reason = FailureReason.INSUFFICIENT_STOCK if known is not None else FailureReason.MEDICATION_NOT_FOUND
    available = 0
    if known is not None:
        await uow.session.refresh(known)
        available = domain.available(known.stock_quantity, known.reserved_quantity)
    for reservation in reserved:
        await _release(uow, reservation, now)
    uow.session.add(_reservation(order, item, ReservationStatus.FAILED, now, reason))
    await uow.session.flush()
    uow.publish(
        events.MedicationReservationFailed(
            order_id=order.order_id,
            patient_id=order.patient_id,
            failure_reason=reason.value,
            medication_id=item.medication_id,
            requested=item.quantity,
            available=available,
            released=tuple(_released_line(r) for r in reserved),
            failed_at=now,
        )
    )
    audit.record(uow, "reservation.refuse", "order", order.order_id)


async def _release(uow: UnitOfWork, reservation: Reservation, now: datetime) -> None:
    if not await _execute(uow, _give_back(reservation.medication_id, reservation.quantity, now)):
        raise RuntimeError(f"reservation {reservation.id} holds more than its medication has reserved")
    reservation.status = ReservationStatus.RELEASED
    reservation.released_at = reservation.updated_at = now
    await uow.session.flush()


def _released_line(reservation: Reservation) -> events.ReleasedLine:
    return events.ReleasedLine(
        reservation_id=reservation.id, medication_id=reservation.medication_id, quantity=reservation.quantity
    )


async def order_confirmed(uow: UnitOfWork, event: orders.OrderConfirmed, envelope: Envelope) -> None:
    """order.confirmed (prescriptions): the order's reservations may now be dispensed."""
    order = await _lock_order(uow, event.order_id)
    if order is None:  # confirmation only ever follows our medication.reserved
        log.warning("confirmation_for_unknown_order", order_id=str(event.order_id))
        return
    if order.confirmed_at is None:
        order.confirmed_at = uow.now()
        await uow.session.flush()


async def release_for_order(
    uow: UnitOfWork, event: orders.OrderFailed | orders.OrderCancelled, envelope: Envelope
) -> None:
    """order.failed / order.cancelled (prescriptions): give back what the order still holds, and remember it is
    closed, so an order.placed delivered after this reserves nothing."""
    now = uow.now()
    order = await fulfilment.close_order(
        uow,
        PharmacyOrder,
        event.order_id,
        now,
        new={"patient_id": event.patient_id, "created_at": now},
        closed_by=event.event_type,
    )
    held = [
        r
        for r in await _order_reservations(uow, order.order_id, for_update=True)
        if r.status == ReservationStatus.RESERVED
    ]
    if not held:
        return
    await _lock_medications(uow, (r.medication_id for r in held))
    for reservation in held:
        await _release(uow, reservation, now)
    uow.publish(
        events.MedicationReleased(
            order_id=order.order_id,
            patient_id=order.patient_id,
            reservations=tuple(_released_line(r) for r in held),
            reason=event.event_type,
            released_at=now,
        )
    )
    audit.record(uow, "reservation.release", "order", order.order_id)
