"""What other contexts may use of orders: the saga's event names (payloads in events.py) and its vocabulary (the
order types, the events that close an order). Pharmacy and lab take their steps when they hear `order.placed` and
compensate on `order.failed` / `order.cancelled`."""

from caremesh.orders.domain import OrderType
from caremesh.orders.events import (
    CLOSING_EVENTS,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_CONFIRMED,
    ORDER_FAILED,
    ORDER_PLACED,
    ClosingEvent,
    LabItem,
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    PrescriptionItem,
)

__all__ = [
    "CLOSING_EVENTS",
    "ORDER_CANCELLED",
    "ORDER_COMPLETED",
    "ORDER_CONFIRMED",
    "ORDER_FAILED",
    "ORDER_PLACED",
    "ClosingEvent",
    "LabItem",
    "OrderCancelled",
    "OrderCompleted",
    "OrderConfirmed",
    "OrderFailed",
    "OrderPlaced",
    "OrderType",
    "PrescriptionItem",
]
