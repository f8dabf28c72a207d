"""What other contexts may use of orders: the saga's event names (payloads in events.py) and its vocabulary (the
order types, the events that close an order). Pharmacy, lab and imaging take their steps when they hear
`order.placed` and compensate on `order.failed` / `order.cancelled`."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.orders.domain import OrderStatus, OrderType
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
from caremesh.platform.mapping import from_attributes

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
