"""Orders use cases and the order saga.

Placing an order commits it `pending` with `order.placed` in the outbox. The saga then moves on one
transaction per step, each triggered by the previous step's event, so a process stopped anywhere resumes
from the durable deliveries on its next start and no step runs twice (every consumer is idempotent):

  order.placed ─► pharmacy reserves every item (all or nothing)  ─► medication.reserved
               └► lab books every test within 14 days            ─► lab.scheduled
               └► imaging books every study within 14 days       ─► imaging.scheduled
  that answer ─► orders: billing invoices the items (its contract, same transaction) ─► confirmed
  a refusal (medication.reservation_failed, lab.scheduling_failed, imaging.scheduling_failed) or an invoicing
  error ─► failed
  failed / cancelled ─► pharmacy releases, lab and imaging cancel (they answer medication.released, lab.cancelled,
                        imaging.cancelled); a cancellation voids the invoice in its own transaction
  medication.dispensed / lab.result_ready / imaging.reported for the last item ─► completed

Every step and compensation is recorded in `order_events` in the transaction that makes it. An order still
pending after `CAREMESH_ORDER_SAGA_TIMEOUT_SECONDS` (a step's consumer kept failing) is failed by a background
job, which compensates like any failure.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.billing import contract as billing
from caremesh.imaging import contract as imaging
from caremesh.lab import contract as lab
from caremesh.orders import contract, domain, events
from caremesh.orders.domain import FailureReason, OrderStatus, OrderType, Step
from caremesh.orders.errors import OrderNotCancellable
from caremesh.orders.events import ImagingItem, LabItem, PrescriptionItem
from caremesh.orders.models import Order, OrderEvent, OrderItem
from caremesh.orders.schemas import OrderCreate, OrderFilters
from caremesh.patients import contract as patients
from caremesh.pharmacy import contract as pharmacy
from caremesh.platform.errors import DomainError, check_version
from caremesh.platform.messaging.consumer import TooEarly
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.numbering import next_number
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.repository import Repository
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners

log = structlog.get_logger("caremesh.orders")

NUMBER_PREFIX = "ORD"

# Where orders end up, counted after commit: placed, then confirmed | failed{reason} | cancelled, then completed.
ORDERS = Counter("orders_total", "Orders by type and saga outcome", ["type", "outcome", "reason"])


def _count(uow: UnitOfWork, order: Order, outcome: str, reason: str = "") -> None:
    uow.after_commit(ORDERS.labels(type=order.type, outcome=outcome, reason=reason).inc)


# --- reads ----------------------------------------------------------------------------------------


ORDER_REPOSITORY: Repository[Order] = contract.ORDER_REPOSITORY


async def _load(uow: UnitOfWork, order_id: uuid.UUID, *, for_update: bool = False) -> Order:
    return await ORDER_REPOSITORY.load(uow, order_id, for_update=for_update)


async def get_order(uow: UnitOfWork, order_id: uuid.UUID) -> Order:
    return await ORDER_REPOSITORY.get(uow, order_id)


async def list_orders(uow: UnitOfWork, filters: OrderFilters, page: PageParams) -> tuple[list[Order], str | None]:
    return await ORDER_REPOSITORY.list(uow, filters, page)


async def list_order_events(
    uow: UnitOfWork, order_id: uuid.UUID, page: PageParams
) -> tuple[list[OrderEvent], str | None]:
    """The steps and compensations of the order's saga, in the order they happened (one page)."""
    order = await _load(uow, order_id)
    query = select(OrderEvent).where(OrderEvent.order_id == order.id)
    rows, cursor = await paginate(uow.session, query, order_by=[OrderEvent.seq], params=page)
    audit.record(uow, "order.events_read", "order", order.id)
    return rows, cursor


# --- the saga's record ------------------------------------------------------------------------------


async def _record(
    uow: UnitOfWork, order: Order, step: Step, detail: dict[str, Any] | None = None, source: Envelope | None = None
) -> None:
    """Append a step to the order's saga log. Callers hold the order's row lock, so numbers never collide
    (and the primary key would refuse it if they did)."""
    last = await uow.session.scalar(select(func.max(OrderEvent.seq)).where(OrderEvent.order_id == order.id))
    uow.session.add(
        OrderEvent(
            order_id=order.id,
            seq=(last or 0) + 1,
            step=step,
            kind=domain.step_kind(step),
            detail=_jsonable(detail or {}),
            source_event_id=None if source is None else source.id,
            occurred_at=uow.now(),
        )
    )
    await uow.session.flush()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _ids(order: Order) -> dict[str, Any]:
    """The fields every order event starts with."""
    return {"order_id": order.id, "number": order.number, "patient_id": order.patient_id, "type": order.type}


# --- placing and cancelling -------------------------------------------------------------------------


async def _check_catalogue(session: AsyncSession, data: OrderCreate) -> None:
    if data.type == OrderType.PRESCRIPTION:
        wanted = {item.medication_id for item in data.items if item.medication_id is not None}
        missing = wanted - set(await pharmacy.find_medications(session, wanted))
        if missing:
            raise pharmacy.MedicationNotFound(f"No medication {', '.join(sorted(map(str, missing)))}.")
    elif data.type == OrderType.LAB:
        wanted = {item.lab_test_id for item in data.items if item.lab_test_id is not None}
        missing = wanted - set(await lab.find_lab_tests(session, wanted))
        if missing:
            raise lab.LabTestNotFound(f"No lab test {', '.join(sorted(map(str, missing)))}.")
    else:
        wanted = {item.imaging_study_id for item in data.items if item.imaging_study_id is not None}
        missing = wanted - set(await imaging.find_imaging_studies(session, wanted))
        if missing:
            raise imaging.ImagingStudyNotFound(f"No imaging study {', '.join(sorted(map(str, missing)))}.")


async def place_order(uow: UnitOfWork, data: OrderCreate) -> Order:
    session = uow.session
    if await patients.find_patient(session, data.patient_id) is None:
        raise patients.PatientNotFound()
    if await practitioners.find_practitioner(session, data.practitioner_id) is None:
        raise practitioners.PractitionerNotFound()
    await _check_catalogue(session, data)
    now = uow.now()
    # The body's fields are the order's and its items' columns.
    order = Order(
        id=uuid.uuid4(),
        **data.model_dump(exclude={"items"}),
        status=OrderStatus.PENDING,
        created_at=now,
        updated_at=now,
        items=[OrderItem(position=n, **item.model_dump()) for n, item in enumerate(data.items, start=1)],
    )
    order.number = await next_number(session, NUMBER_PREFIX, clinic_date(now).year)
    session.add(order)
    await session.flush()
    await _record(uow, order, Step.PLACED, {"items": len(order.items)})
    uow.publish(
        events.OrderPlaced(**_ids(order), practitioner_id=order.practitioner_id, items=_items(order), placed_at=now)
    )
    audit.record(uow, "order.place", "order", order.id)
    _count(uow, order, "placed")
    return order


def _items(
    order: Order,
) -> tuple[PrescriptionItem, ...] | tuple[LabItem, ...] | tuple[ImagingItem, ...]:
    if order.type == OrderType.PRESCRIPTION:
        return tuple(
            PrescriptionItem(medication_id=i.medication_id, quantity=i.quantity, dosage=i.dosage) for i in order.items
        )
    if order.type == OrderType.LAB:
        return tuple(LabItem(lab_test_id=i.lab_test_id) for i in order.items)
    return tuple(ImagingItem(imaging_study_id=i.imaging_study_id) for i in order.items)


async def _recorded(uow: UnitOfWork, order: Order, steps: Iterable[Step]) -> bool:
    """Whether the order's saga log holds any of `steps`."""
    wanted = [s.value for s in steps]
    return bool(
        await uow.session.scalar(select(exists().where(OrderEvent.order_id == order.id, OrderEvent.step.in_(wanted))))
    )


async def _count_recorded(uow: UnitOfWork, order: Order, step: Step) -> int:
    query = select(func.count()).where(OrderEvent.order_id == order.id, OrderEvent.step == step.value)
    return await uow.session.scalar(query) or 0


async def _work_started(uow: UnitOfWork, order: Order) -> bool:
    return await _recorded(uow, order, domain.ITEM_WORK)


async def cancel_order(uow: UnitOfWork, order_id: uuid.UUID, reason: str | None, expected_version: int | None) -> Order:
    """Cancel a pending or confirmed order: void its invoice now (409 INVOICE_HAS_PAYMENTS if money moved on it,
    and then nothing changes), and let pharmacy, lab or imaging give back what they hold when they hear of it."""
    order = await _load(uow, order_id, for_update=True)
    check_version(order.version, expected_version)
    refusal = domain.cancel_refusal(OrderStatus(order.status), work_started=await _work_started(uow, order))
    if refusal is domain.CancelRefusal.CLOSED:
        raise OrderNotCancellable(f"The order is {order.status}; only pending and confirmed orders are cancelled.")
    if refusal is domain.CancelRefusal.WORK_STARTED:
        raise OrderNotCancellable("Items of the order were already dispensed, resulted or reported.")
    now = uow.now()
    if order.invoice_id is not None:
        voided = await billing.void_for_order(uow, order.id, "order cancelled")
        if voided is not None:
            await _record(uow, order, Step.INVOICE_VOIDED, {"invoice_id": voided.id, "number": voided.number})
    order.status = OrderStatus.CANCELLED
    order.cancel_reason = reason
    order.closed_at = order.updated_at = now
    await uow.session.flush()
    await _record(uow, order, Step.CANCELLED, {"reason": reason})
    uow.publish(events.OrderCancelled(**_ids(order), reason=reason, cancelled_at=now))
    audit.record(uow, "order.cancel", "order", order.id)
    _count(uow, order, "cancelled")
    return order


# --- the saga's steps (consumers of pharmacy's and lab's answers) -----------------------------------


AnswerStep = Callable[[UnitOfWork, Order, Any, Envelope], Awaitable[None]]


def _answer(step: AnswerStep) -> Callable[[UnitOfWork, Any, Envelope], Awaitable[None]]:
    """A consumer of pharmacy's or lab's answers: `step` runs with the order the answer is about, locked (one step
    at a time per order, and none racing a cancellation)."""

    async def consume(uow: UnitOfWork, event: Any, envelope: Envelope) -> None:
        order = await ORDER_REPOSITORY.find(uow, event.order_id, for_update=True)
        if order is None:  # answers only ever follow our order.placed; anything else is not ours to act on
            log.warning("saga_answer_for_unknown_order", event_type=envelope.type, order_id=str(event.order_id))
            return
        await step(uow, order, event, envelope)

    consume.__name__, consume.__qualname__, consume.__doc__ = step.__name__, step.__qualname__, step.__doc__
    return consume


async def _fail(uow: UnitOfWork, order: Order, reason: FailureReason | str, source: Envelope | None) -> None:
    now = uow.now()
    order.status = OrderStatus.FAILED
    order.failure_reason = str(reason)
    order.closed_at = order.updated_at = now
    await uow.session.flush()
    await _record(uow, order, Step.FAILED, {"failure_reason": str(reason)}, source)
    uow.publish(events.OrderFailed(**_ids(order), failure_reason=str(reason), failed_at=now))
    audit.record(uow, "order.fail", "order", order.id)
    _count(uow, order, "failed", str(reason))


async def _invoice_and_confirm(uow: UnitOfWork, order: Order, charge: billing.OrderCharge, source: Envelope) -> None:
    """The saga's last step: billing invoices the items in this transaction, and the order is confirmed."""
    try:
        async with uow.session.begin_nested():
            invoice, _ = await billing.issue_for_order(uow, charge)
    except DomainError as error:
        await _record(uow, order, Step.INVOICING_FAILED, {"code": error.code, "detail": error.detail}, source)
        await _fail(uow, order, FailureReason.BILLING_FAILED, source)
        return
    await _record(
        uow,
        order,
        Step.INVOICED,
        {"invoice_id": invoice.id, "number": invoice.number, "total": invoice.total, "currency": invoice.currency},
        source,
    )
    now = uow.now()
    order.status = OrderStatus.CONFIRMED
    order.invoice_id = invoice.id
    order.confirmed_at = order.updated_at = now
    await uow.session.flush()
    await _record(uow, order, Step.CONFIRMED, {}, source)
    uow.publish(events.OrderConfirmed(**_ids(order), invoice_id=invoice.id, confirmed_at=now))
    audit.record(uow, "order.confirm", "order", order.id)
    _count(uow, order, "confirmed")


def _charge(order: Order, kind: billing.Kind, lines: Iterable[billing.ChargeLine]) -> billing.OrderCharge:
    return billing.OrderCharge(
        order_id=order.id,
        patient_id=order.patient_id,
        practitioner_id=order.practitioner_id,
        kind=kind,
        lines=tuple(lines),
    )


def _lines(lines: Iterable[Any]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(line) for line in lines]


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Taken:
    """How orders reads one participant's first-step answer: the step it is recorded as, the list of what it holds
    (`held`, each one `noted` in the step's detail under `holds`), and each one's charge line."""

    step: Step
    kind: billing.Kind
    holds: str
    held: Callable[[Any], Sequence[Any]]
    noted: Callable[[Any], dict[str, Any]]
    line: Callable[[Any], billing.ChargeLine]


_TAKEN: dict[type, _Taken] = {
    pharmacy.MedicationReserved: _Taken(
        step=Step.STOCK_RESERVED,
        kind=billing.Kind.MEDICATION,
        holds="reservations",
        held=lambda event: event.reservations,
        noted=lambda r: {"reservation_id": r.reservation_id, "medication_id": r.medication_id, "quantity": r.quantity},
        line=lambda r: billing.ChargeLine(r.code, f"{r.name} ({r.unit})", r.quantity, r.unit_price),
    ),
    lab.LabScheduled: _Taken(
        step=Step.LAB_SCHEDULED,
        kind=billing.Kind.LAB,
        holds="lab_orders",
        held=lambda event: event.lab_orders,
        noted=lambda o: {
            "lab_order_id": o.lab_order_id,
            "lab_test_id": o.lab_test_id,
            "scheduled_date": o.scheduled_date,
        },
        line=lambda o: billing.ChargeLine(o.code, o.name, 1, o.price),
    ),
    # Imaging is diagnostics as lab is: invoiced as a lab charge (billing's ORDER-LAB tariff and insurance's lab
    # category), each study one line at its catalogue price.
    imaging.ImagingScheduled: _Taken(
        step=Step.IMAGING_SCHEDULED,
        kind=billing.Kind.LAB,
        holds="imaging_orders",
        held=lambda event: event.imaging_orders,
        noted=lambda o: {
            "imaging_order_id": o.imaging_order_id,
            "imaging_study_id": o.imaging_study_id,
            "scheduled_date": o.scheduled_date,
        },
        line=lambda o: billing.ChargeLine(o.code, f"{o.name} ({o.modality})", 1, o.price),
    ),
}


@_answer
async def first_step_taken(
    uow: UnitOfWork,
    order: Order,
    event: pharmacy.MedicationReserved | lab.LabScheduled | imaging.ImagingScheduled,
    envelope: Envelope,
) -> None:
    """medication.reserved, lab.scheduled or imaging.scheduled: recorded; a pending order is then invoiced and
    confirmed. A closed one only records it: the participant gives back what it holds when it hears of the failure
    or cancellation."""
    taken = _TAKEN[type(event)]
    held = taken.held(event)
    await _record(uow, order, taken.step, {taken.holds: [taken.noted(h) for h in held]}, envelope)
    if domain.awaits_first_step(OrderStatus(order.status)):
        await _invoice_and_confirm(uow, order, _charge(order, taken.kind, map(taken.line, held)), envelope)


@_answer
async def first_step_refused(
    uow: UnitOfWork,
    order: Order,
    event: pharmacy.MedicationReservationFailed | lab.LabSchedulingFailed | imaging.ImagingSchedulingFailed,
    envelope: Envelope,
) -> None:
    """medication.reservation_failed, lab.scheduling_failed or imaging.scheduling_failed: what was taken was already
    given back."""
    reason = str(event.failure_reason)
    detail: dict[str, Any]
    if isinstance(event, pharmacy.MedicationReservationFailed):
        refused, compensation, given_back = Step.STOCK_RESERVATION_FAILED, Step.RESERVATIONS_RELEASED, "released"
        detail = {
            "failure_reason": reason,
            "medication_id": event.medication_id,
            "requested": event.requested,
            "available": event.available,
        }
        returned = _lines(event.released)
    elif isinstance(event, lab.LabSchedulingFailed):
        refused, compensation, given_back = Step.LAB_SCHEDULING_FAILED, Step.LAB_ORDERS_CANCELLED, "cancelled"
        detail = {"failure_reason": reason, "lab_test_id": event.lab_test_id}
        returned = _lines(event.cancelled)
    else:
        refused, compensation, given_back = (
            Step.IMAGING_SCHEDULING_FAILED,
            Step.IMAGING_ORDERS_CANCELLED,
            "cancelled",
        )
        detail = {"failure_reason": reason, "imaging_study_id": event.imaging_study_id}
        returned = _lines(event.cancelled)
    await _record(uow, order, refused, detail, envelope)
    if returned:
        await _record(uow, order, compensation, {given_back: returned}, envelope)
    if domain.awaits_first_step(OrderStatus(order.status)):
        await _fail(uow, order, reason, envelope)


@_answer
async def compensated(
    uow: UnitOfWork,
    order: Order,
    event: pharmacy.MedicationReleased | lab.LabCancelled | imaging.ImagingCancelled,
    envelope: Envelope,
) -> None:
    """medication.released, lab.cancelled or imaging.cancelled after a failure or cancellation: recorded. They give
    back what medication.reserved / lab.scheduled / imaging.scheduled announced, so until that answer is recorded
    this one is too early: the saga log then reads in the order things happened, whatever order the broker
    delivered them in."""
    if isinstance(event, pharmacy.MedicationReleased):
        step, detail = Step.RESERVATIONS_RELEASED, {"reservations": _lines(event.reservations)}
    elif isinstance(event, lab.LabCancelled):
        step, detail = Step.LAB_ORDERS_CANCELLED, {"lab_orders": _lines(event.lab_orders)}
    else:
        step, detail = Step.IMAGING_ORDERS_CANCELLED, {"imaging_orders": _lines(event.imaging_orders)}
    if not await _recorded(uow, order, [domain.GIVES_BACK[step]]):
        raise TooEarly(f"{envelope.type} for order {order.id} before its {domain.GIVES_BACK[step]}")
    await _record(uow, order, step, detail, envelope)


@_answer
async def item_done(
    uow: UnitOfWork,
    order: Order,
    event: pharmacy.MedicationDispensed | lab.LabResultReady | imaging.ImagingReported,
    envelope: Envelope,
) -> None:
    """medication.dispensed, lab.result_ready or imaging.reported: recorded; the last one completes a confirmed
    order."""
    detail: dict[str, Any]
    if isinstance(event, pharmacy.MedicationDispensed):
        step, all_done = Step.DISPENSED, event.order_fully_dispensed
        detail = {
            "reservation_id": event.reservation_id,
            "medication_id": event.medication_id,
            "quantity": event.quantity,
        }
    elif isinstance(event, lab.LabResultReady):
        step, all_done = Step.RESULTED, event.order_fully_resulted
        detail = {"lab_order_id": event.lab_order_id, "lab_test_id": event.lab_test_id}
    else:
        step, all_done = Step.REPORTED, event.order_fully_reported
        detail = {"imaging_order_id": event.imaging_order_id, "imaging_study_id": event.imaging_study_id}
    if domain.awaits_first_step(OrderStatus(order.status)):
        # Items are dispensed, resulted or reported only for confirmed orders: the answer that confirms it comes first.
        raise TooEarly(f"{envelope.type} for order {order.id}, still {order.status}")
    completes = domain.completes(OrderStatus(order.status), all_items_done=all_done)
    if completes and await _count_recorded(uow, order, step) + 1 < len(order.items):
        # The answer for the last item overtook another item's: record that one first, then complete.
        raise TooEarly(f"{envelope.type} for order {order.id} says all items are done before the others")
    await _record(uow, order, step, detail, envelope)
    if not completes:
        return
    now = uow.now()
    order.status = OrderStatus.COMPLETED
    order.closed_at = order.updated_at = now
    await uow.session.flush()
    await _record(uow, order, Step.COMPLETED, {}, envelope)
    uow.publish(events.OrderCompleted(**_ids(order), completed_at=now))
    audit.record(uow, "order.complete", "order", order.id)
    _count(uow, order, "completed")


# --- the timeout -----------------------------------------------------------------------------------


async def overdue_orders(session: AsyncSession, now: datetime, timeout: timedelta, *, limit: int) -> list[uuid.UUID]:
    """Pending orders placed at or before `now - timeout`, oldest first."""
    rows = await session.scalars(
        select(Order.id)
        .where(Order.status == OrderStatus.PENDING, Order.created_at <= now - timeout)
        .order_by(Order.created_at, Order.id)
        .limit(limit)
    )
    return list(rows)


async def time_out(uow: UnitOfWork, order_id: uuid.UUID, timeout: timedelta) -> bool:
    """Fail the order with SAGA_TIMEOUT if it is still pending and overdue; True when it was."""
    order = await ORDER_REPOSITORY.find(uow, order_id, for_update=True)
    if order is None or order.status != OrderStatus.PENDING or order.created_at > uow.now() - timeout:
        return False
    await _record(uow, order, Step.TIMED_OUT, {"after_seconds": int(timeout.total_seconds())})
    await _fail(uow, order, FailureReason.SAGA_TIMEOUT, None)
    return True
