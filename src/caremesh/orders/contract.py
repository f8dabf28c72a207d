"""What other contexts may use of orders: the saga's event names (payloads in events.py). Pharmacy and lab
take their steps when they hear `order.placed` and compensate on `order.failed` / `order.cancelled`."""

from caremesh.orders.events import (
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_CONFIRMED,
    ORDER_FAILED,
    ORDER_PLACED,
    LabItem,
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    PrescriptionItem,
)

__all__ = [
    "ORDER_CANCELLED",
    "ORDER_COMPLETED",
    "ORDER_CONFIRMED",
    "ORDER_FAILED",
    "ORDER_PLACED",
    "LabItem",
    "OrderCancelled",
    "OrderCompleted",
    "OrderConfirmed",
    "OrderFailed",
    "OrderPlaced",
    "PrescriptionItem",
]
