"""What other contexts may use of orders: the saga's event names (payloads in events.py) and its vocabulary (the
order types, the events that close an order). Pharmacy, lab and imaging take their steps when they hear
`order.placed` and compensate on `order.failed` / `order.cancelled`."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.orders.domain import OrderStatus, OrderType
from caremesh.orders.errors import OrderNotFound
from caremesh.orders.events import (
    CLOSING_EVENTS,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_CONFIRMED,
    ORDER_FAILED,
    ORDER_PLACED,
    ClosingEvent,
    ImagingItem,
    LabItem,
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    PrescriptionItem,
)
from caremesh.orders.models import Order
from caremesh.orders.schemas import OrderFilters
from caremesh.platform.mapping import from_attributes
from caremesh.platform.pagination import PageParams
from caremesh.platform.uow import UnitOfWork

__all__ = [
    "CLOSING_EVENTS",
    "ORDER_CANCELLED",
    "ORDER_COMPLETED",
    "ORDER_CONFIRMED",
    "ORDER_FAILED",
    "ORDER_PLACED",
    "ClosingEvent",
    "ImagingItem",
    "LabItem",
    "OrderCancelled",
    "OrderCompleted",
    "OrderConfirmed",
    "OrderFailed",
    "OrderPlaced",
    "OrderType",
    "PrescriptionItem",
]


# --- read-only queries (the patient's chart) ---------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSummary:
    """The order's columns of the same names; `type` an `OrderType`, `status` an order status value."""

    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    type: str
    status: str
    created_at: datetime


ACTIVE_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.CONFIRMED)


async def active_orders(session: AsyncSession, patient_id: uuid.UUID, *, limit: int = 50) -> list[OrderSummary]:
    """The patient's orders still under way (pending or confirmed), newest first."""
    rows = await session.scalars(
        select(Order)
        .where(Order.patient_id == patient_id, Order.status.in_(ACTIVE_ORDER_STATUSES))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return [from_attributes(OrderSummary, row) for row in rows]


__all__ += ["ACTIVE_ORDER_STATUSES", "OrderSummary", "active_orders"]


# --- issue 17: reads for the FHIR facade, through the same use cases as GET /orders (scoping and audit) ---


@dataclass(frozen=True)
class OrderLine:
    """An item of an order: `position` from 1, and the medication (with quantity and dosage), lab test or study."""

    position: int
    medication_id: uuid.UUID | None
    quantity: int | None
    dosage: str | None
    lab_test_id: uuid.UUID | None
    imaging_study_id: uuid.UUID | None


@dataclass(frozen=True)
class OrderRecord(OrderSummary):
    """An order as `GET /orders/{id}` shows it."""

    notes: str | None
    cancel_reason: str | None
    failure_reason: str | None
    items: tuple[OrderLine, ...]


# The orders' audited, patient-scoped reads, for GET /orders (the service) and for FHIR alike. Declared here, not in
# the service: lab and imaging events import this contract and the service imports theirs (import-linter's layers).
ORDER_REPOSITORY = audit.repository(
    Order,
    OrderNotFound,
    entity="order",
    owner=Order.patient_id,
    order_by=[Order.number],  # the order they were placed
)


def _order_record(order: Order) -> OrderRecord:
    return from_attributes(OrderRecord, order, items=tuple(from_attributes(OrderLine, item) for item in order.items))


async def read_order(uow: UnitOfWork, order_id: uuid.UUID) -> OrderRecord:
    """Only if the principal may see it (a patient: their own), audited as `order.read`; else OrderNotFound."""
    return _order_record(await ORDER_REPOSITORY.get(uow, order_id))


async def search_orders(
    uow: UnitOfWork,
    *,
    patient_id: uuid.UUID | None = None,
    type: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[OrderRecord], str | None]:
    """One page of what `GET /orders` lists with these filters, scoped and audited as it is; and the next cursor."""

    filters = OrderFilters(patient_id=patient_id, type=None if type is None else OrderType(type))
    rows, next_cursor = await ORDER_REPOSITORY.list(uow, filters, PageParams(limit=limit, cursor=cursor))
    return [_order_record(row) for row in rows], next_cursor


__all__ += ["OrderLine", "OrderNotFound", "OrderRecord", "read_order", "search_orders"]
