"""Lab use cases: the test catalogue, booking lab orders within capacity, results, and the order saga's steps.

Every use case takes the unit of work and flushes; the entrypoint (a route or a consumer) commits.
A test's bookings per day never exceed its capacity: each slot is taken by one conditional upsert of the
(test, day) counter row, whose CHECK refuses any count above the capacity it was taken under. The steps of one
clinical order (booking, confirmation, cancellation, results) are serialised by the lock on its
`lab_known_orders` row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import structlog
from sqlalchemy import select, update

from caremesh.audit import contract as audit
from caremesh.lab import domain
from caremesh.lab.domain import LabOrderStatus, SchedulingFailure
from caremesh.lab.errors import LabTestNotFound
from caremesh.lab.events import (
    BookedLabOrder,
    LabCancelled,
    LabResultReady,
    LabScheduled,
    LabSchedulingFailed,
    ScheduledLabOrder,
)
from caremesh.lab.models import ONE_LAB_TEST_PER_CODE, LabKnownOrder, LabOrder, LabTest, LabTestDay
from caremesh.lab.schemas import (
    LabOrderFilters,
    LabResultCreate,
    LabTestCreate,
    LabTestFilters,
    LabTestUpdate,
)
from caremesh.platform import fulfilment
from caremesh.platform.db import dialect_insert
from caremesh.platform.errors import Conflict, NotFound, check_version
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import changes_of
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.lab")


class LabTestCodeExists(Conflict):
    code, title = "LAB_TEST_CODE_EXISTS", "A lab test with this code exists"


class LabOrderNotFound(NotFound):
    code, title = "LAB_ORDER_NOT_FOUND", "Lab order not found"


class LabOrderNotResultable(Conflict):
    code, title = "LAB_ORDER_NOT_RESULTABLE", "The lab order cannot be resulted"


# --- lab tests ------------------------------------------------------------------------------------


# The race's loser gets the title alone, as it always did.
CATALOGUE: fulfilment.Catalogue[LabTest] = fulfilment.Catalogue(
    LabTest,
    LabTestNotFound,
    entity="lab_test",
    record=audit.record,
    order_by=[LabTest.code],
    search=[LabTest.code, LabTest.name],
    code_taken=lambda code: LabTestCodeExists(f"A lab test with code {code} exists."),
    unique=(ONE_LAB_TEST_PER_CODE, "lab_tests.code"),  # PostgreSQL names the constraint, SQLite the column
    code_raced=lambda code: LabTestCodeExists(),
)


async def create_lab_test(uow: UnitOfWork, data: LabTestCreate) -> LabTest:
    return await CATALOGUE.add(uow, **data.model_dump())


async def get_lab_test(uow: UnitOfWork, test_id: uuid.UUID, *, for_update: bool = False) -> LabTest:
    return await CATALOGUE.entries.load(uow, test_id, for_update=for_update)


async def list_lab_tests(
    uow: UnitOfWork, filters: LabTestFilters, page: PageParams
) -> tuple[list[LabTest], str | None]:
    return await CATALOGUE.list(uow, filters, page)


async def update_lab_test(
    uow: UnitOfWork, test_id: uuid.UUID, data: LabTestUpdate, expected_version: int | None
) -> LabTest:
    """Change what the body names. Lowering the capacity keeps the bookings already taken."""
    test = await get_lab_test(uow, test_id, for_update=True)
    check_version(test.version, expected_version)
    changes = changes_of(data)
    for field, value in changes.items():
        setattr(test, field, value)
    await CATALOGUE.entries.updated(uow, test, changes)
    return test


# --- capacity -------------------------------------------------------------------------------------


async def _take_slot(uow: UnitOfWork, test: LabTest, day: date) -> bool:
    """Book one slot of `test` on `day` if one is free under its capacity now: one statement, safe under
    concurrency (the upsert locks the day's row; a competing booking waits and then sees the new count)."""
    capacity = test.daily_capacity
    if capacity <= 0:
        return False  # the insert would break the CHECK: no day has room
    statement = dialect_insert(uow.session)(LabTestDay).values(
        lab_test_id=test.id, day=day, booked=1, capacity=capacity
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LabTestDay.lab_test_id, LabTestDay.day],
        set_={"booked": LabTestDay.booked + 1, "capacity": statement.excluded.capacity},
        where=LabTestDay.booked < statement.excluded.capacity,
    ).returning(LabTestDay.booked)
    return await uow.session.scalar(statement) is not None


async def _free_slot(uow: UnitOfWork, lab_test_id: uuid.UUID, day: date) -> None:
    await uow.session.execute(
        update(LabTestDay)
        .where(LabTestDay.lab_test_id == lab_test_id, LabTestDay.day == day, LabTestDay.booked > 0)
        .values(booked=LabTestDay.booked - 1)
    )


async def _book(uow: UnitOfWork, test: LabTest, window: Sequence[date]) -> date | None:
    """The first day of `window` on which a slot of `test` was taken, or None when every day is full."""
    rows = await uow.session.execute(
        select(LabTestDay.day, LabTestDay.booked).where(
            LabTestDay.lab_test_id == test.id, LabTestDay.day.between(window[0], window[-1])
        )
    )
    counts = {day: booked for day, booked in rows}
    # Days seen full are skipped; the upsert decides for the others (one may fill meanwhile).
    for day in domain.free_days(window, counts, test.daily_capacity):
        if await _take_slot(uow, test, day):
            return day
    return None


# --- lab orders: reads ----------------------------------------------------------------------------


# A patient-role principal sees only their own lab orders; others do not exist for them.
LAB_ORDERS: Repository[LabOrder] = audit.repository(
    LabOrder,
    LabOrderNotFound,
    entity="lab_order",
    owner=LabOrder.patient_id,
    # as they were booked: by time, then by order and the item's place in it
    order_by=[LabOrder.created_at, LabOrder.order_id, LabOrder.position],
)


async def get_lab_order(uow: UnitOfWork, lab_order_id: uuid.UUID) -> LabOrder:
    return await LAB_ORDERS.get(uow, lab_order_id)


async def list_lab_orders(
    uow: UnitOfWork, filters: LabOrderFilters, page: PageParams
) -> tuple[list[LabOrder], str | None]:
    return await LAB_ORDERS.list(uow, filters, page)


# --- the order's lock -------------------------------------------------------------------------------


async def _known_order(uow: UnitOfWork, order_id: uuid.UUID) -> LabKnownOrder:
    """The order's row, created if new, locked until the transaction ends."""
    return await fulfilment.lock_order(uow, LabKnownOrder, order_id)


async def _orders_of(uow: UnitOfWork, order_id: uuid.UUID) -> list[LabOrder]:
    return await fulfilment.items_of(uow, LabOrder, order_id)


# --- the saga's steps (consumers of order.*) ---------------------------------------------------------


def _booked_item(lab_order: LabOrder) -> BookedLabOrder:
    return BookedLabOrder(
        lab_order_id=lab_order.id, lab_test_id=lab_order.lab_test_id, scheduled_date=lab_order.scheduled_date
    )


async def _cancel(uow: UnitOfWork, lab_orders: Sequence[LabOrder], reason: str) -> list[LabOrder]:
    """Cancel the scheduled ones and free their slots; returns those cancelled."""
    now = uow.now()
    cancelled = [o for o in lab_orders if o.status == LabOrderStatus.SCHEDULED]
    for lab_order in cancelled:
        lab_order.status = LabOrderStatus.CANCELLED
        lab_order.cancelled_at = lab_order.updated_at = now
        lab_order.cancel_reason = reason
        await _free_slot(uow, lab_order.lab_test_id, lab_order.scheduled_date)
    await uow.session.flush()
    return cancelled


async def schedule_order(
    uow: UnitOfWork, order_id: uuid.UUID, patient_id: uuid.UUID, lab_test_ids: Sequence[uuid.UUID]
) -> None:
    """Book every test of the order, in its item order, each on the first day with a free slot within the
    booking window; all or nothing. Publishes lab.scheduled, or lab.scheduling_failed after giving back what
    was booked. Books and publishes nothing for an order already closed or already booked."""
    known = await _known_order(uow, order_id)
    if known.closed_at is not None:
        log.info("lab_order_placed_after_close", order_id=str(order_id), reason=known.close_reason)
        return
    if await _orders_of(uow, order_id):
        return  # booked by an earlier delivery of this order
    now = uow.now()
    window = domain.booking_window(clinic_date(now))
    tests = {t.id: t for t in await uow.session.scalars(select(LabTest).where(LabTest.id.in_(set(lab_test_ids))))}
    booked: list[LabOrder] = []
    for position, test_id in enumerate(lab_test_ids, start=1):
        test = tests.get(test_id)
        failure = SchedulingFailure.LAB_TEST_NOT_FOUND if test is None else None
        day = None if test is None else await _book(uow, test, window)
        if test is not None and day is None:
            failure = SchedulingFailure.NO_LAB_CAPACITY
        if failure is not None:
            await _refuse(uow, known, patient_id, booked, failure, test_id)
            return
        lab_order = LabOrder(
            order_id=order_id,
            position=position,
            patient_id=patient_id,
            lab_test_id=test_id,
            scheduled_date=day,
            status=LabOrderStatus.SCHEDULED,
            order_confirmed=known.confirmed_at is not None,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(lab_order)
        booked.append(lab_order)
    await uow.session.flush()
    uow.publish(
        LabScheduled(
            order_id=order_id,
            patient_id=patient_id,
            lab_orders=tuple(
                ScheduledLabOrder(
                    lab_order_id=o.id,
                    lab_test_id=o.lab_test_id,
                    code=tests[o.lab_test_id].code,
                    name=tests[o.lab_test_id].name,
                    price=tests[o.lab_test_id].price,
                    currency=tests[o.lab_test_id].currency,
                    scheduled_date=o.scheduled_date,
                )
                for o in booked
            ),
            scheduled_at=now,
        )
    )
    for lab_order in booked:
        audit.record(uow, "lab_order.schedule", "lab_order", lab_order.id)


async def _refuse(
    uow: UnitOfWork,
    known: LabKnownOrder,
    patient_id: uuid.UUID,
    booked: list[LabOrder],
    failure: SchedulingFailure,
    lab_test_id: uuid.UUID,
) -> None:
    """Give back what was booked for the order, close it and publish lab.scheduling_failed."""
    await uow.session.flush()
    cancelled = await _cancel(uow, booked, failure)
    now = uow.now()
    known.closed_at, known.close_reason = now, failure
    await uow.session.flush()
    uow.publish(
        LabSchedulingFailed(
            order_id=known.order_id,
            patient_id=patient_id,
            failure_reason=failure.value,
            lab_test_id=lab_test_id,
            cancelled=tuple(_booked_item(o) for o in cancelled),
            failed_at=now,
        )
    )
    log.info("lab_scheduling_failed", order_id=str(known.order_id), failure_reason=str(failure))


async def confirm_order(uow: UnitOfWork, order_id: uuid.UUID) -> None:
    """The order is confirmed: its lab orders may be resulted."""
    known = await _known_order(uow, order_id)
    if known.confirmed_at is None:
        known.confirmed_at = uow.now()
    await uow.session.execute(
        update(LabOrder).where(LabOrder.order_id == order_id).values(order_confirmed=True, updated_at=uow.now())
    )
    await uow.session.flush()


async def close_order(uow: UnitOfWork, order_id: uuid.UUID, patient_id: uuid.UUID, reason: str) -> None:
    """The order failed or was cancelled: cancel its scheduled lab orders (resulted ones stay), free their
    slots, publish lab.cancelled when something was cancelled, and remember the order is closed."""
    now = uow.now()
    await fulfilment.close_order(uow, LabKnownOrder, order_id, now, close_reason=reason)
    cancelled = await _cancel(uow, await _orders_of(uow, order_id), reason)
    await uow.session.flush()
    if not cancelled:
        return
    uow.publish(
        LabCancelled(
            order_id=order_id,
            patient_id=patient_id,
            lab_orders=tuple(_booked_item(o) for o in cancelled),
            reason=reason,
            cancelled_at=now,
        )
    )
    for lab_order in cancelled:
        audit.record(uow, "lab_order.cancel", "lab_order", lab_order.id)


# --- results ----------------------------------------------------------------------------------------


async def record_result(uow: UnitOfWork, lab_order_id: uuid.UUID, data: LabResultCreate) -> LabOrder:
    """Record the results of a scheduled lab order of a confirmed order, once. Publishes lab.result_ready
    (without the values) with `order_fully_resulted` when no lab order of the order is left to result."""
    lab_order = await LAB_ORDERS.load(uow, lab_order_id)
    await _known_order(uow, lab_order.order_id)  # one step of the order at a time
    siblings = await _orders_of(uow, lab_order.order_id)
    lab_order = next(o for o in siblings if o.id == lab_order_id)
    reason = domain.not_resultable_reason(LabOrderStatus(lab_order.status), order_confirmed=lab_order.order_confirmed)
    if reason is not None:
        raise LabOrderNotResultable(reason)
    now = uow.now()
    lab_order.status = LabOrderStatus.RESULTED
    lab_order.results = [value.model_dump() for value in data.values]
    lab_order.resulted_at = lab_order.updated_at = now
    lab_order.resulted_by = None if uow.actor is None else uow.actor.user_id
    await uow.session.flush()
    uow.publish(
        LabResultReady(
            lab_order_id=lab_order.id,
            order_id=lab_order.order_id,
            patient_id=lab_order.patient_id,
            lab_test_id=lab_order.lab_test_id,
            order_fully_resulted=domain.fully_resulted(LabOrderStatus(o.status) for o in siblings),
            resulted_at=now,
        )
    )
    audit.record(uow, "lab_order.result", "lab_order", lab_order.id)
    return lab_order
