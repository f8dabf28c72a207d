"""Lab use cases: the test catalogue, lab orders booked within capacity, results, and the order saga's steps.

Every use case takes the unit of work and flushes; the entrypoint (a route or a consumer) commits. Booking within
each test's daily capacity, the saga's steps and finishing a lab order are capacity's (`platform.capacity`): what
is lab's own here is its catalogue, its events and what a result records.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from caremesh.audit import contract as audit
from caremesh.lab import domain
from caremesh.lab.domain import LabOrderStatus, SchedulingFailure
from caremesh.lab.errors import LabOrderNotFound, LabOrderNotResultable, LabTestCodeExists, LabTestNotFound
from caremesh.lab.events import ANNOUNCEMENTS, LabResultReady
from caremesh.lab.models import ONE_LAB_TEST_PER_CODE, LabKnownOrder, LabOrder, LabTest, LabTestDay
from caremesh.lab.schemas import (
    LabResultCreate,
    LabTestCreate,
    LabTestUpdate,
)
from caremesh.platform import fulfilment
from caremesh.platform.capacity.booking import CapacityBookings
from caremesh.platform.errors import check_version
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import changes_of
from caremesh.platform.uow import UnitOfWork

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


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_lab_test = CATALOGUE.entries.load
list_lab_tests = CATALOGUE.list


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


get_lab_order = LAB_ORDERS.get
list_lab_orders = LAB_ORDERS.list


# --- the saga's steps (consumers of order.*, see handlers.py) -----------------------------------------


BOOKINGS: CapacityBookings[LabTest, LabOrder, LabKnownOrder] = CapacityBookings(
    catalogue=LabTest,
    days=LabTestDay,
    bookings=LabOrder,
    known=LabKnownOrder,
    entry_column="lab_test_id",
    done=LabOrderStatus.RESULTED,
    no_capacity=SchedulingFailure.NO_LAB_CAPACITY,
    not_found=SchedulingFailure.LAB_TEST_NOT_FOUND,
    entity="lab_order",
    record=audit.record,
    announce=ANNOUNCEMENTS,
)


# --- results ----------------------------------------------------------------------------------------


async def record_result(uow: UnitOfWork, lab_order_id: uuid.UUID, data: LabResultCreate) -> LabOrder:
    """Record the results of a scheduled lab order of a confirmed order, once. Publishes lab.result_ready
    (without the values) with `order_fully_resulted` when no lab order of the order is left to result."""

    def with_results(lab_order: LabOrder, now: datetime) -> None:
        lab_order.results = [value.model_dump() for value in data.values]
        lab_order.resulted_at = now
        lab_order.resulted_by = None if uow.actor is None else uow.actor.user_id

    return await BOOKINGS.finish(
        uow,
        await LAB_ORDERS.load(uow, lab_order_id),
        lambda why: LabOrderNotResultable(domain.NOT_RESULTABLE[why]),
        with_results,
        announce=LabResultReady,
        action="result",
    )
