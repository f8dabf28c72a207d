"""Consumers of the order saga's events: lab books an order's tests, marks them resultable when the order is
confirmed, and gives the slots back when it fails or is cancelled. Prescriptions are pharmacy's."""

from __future__ import annotations

import uuid

from caremesh.lab import service
from caremesh.orders.contract import ORDER_CANCELLED, ORDER_CONFIRMED, ORDER_FAILED, ORDER_PLACED
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork

CONSUMER = "lab"
LAB = "lab"


def _id(envelope: Envelope, key: str) -> uuid.UUID:
    return uuid.UUID(str(envelope.payload[key]))


def _is_lab(envelope: Envelope) -> bool:
    return envelope.payload.get("type") == LAB


async def schedule_placed_order(uow: UnitOfWork, envelope: Envelope) -> None:
    if not _is_lab(envelope):
        return
    tests = [uuid.UUID(str(item["lab_test_id"])) for item in envelope.payload["items"]]
    await service.schedule_order(uow, _id(envelope, "order_id"), _id(envelope, "patient_id"), tests)


async def confirm_order(uow: UnitOfWork, envelope: Envelope) -> None:
    if _is_lab(envelope):
        await service.confirm_order(uow, _id(envelope, "order_id"))


async def cancel_closed_order(uow: UnitOfWork, envelope: Envelope) -> None:
    """order.failed and order.cancelled; the reason lab.cancelled carries is the event's name."""
    if _is_lab(envelope):
        await service.close_order(uow, _id(envelope, "order_id"), _id(envelope, "patient_id"), envelope.type)


SUBSCRIPTIONS: list[Subscription] = [
    Subscription(CONSUMER, ORDER_PLACED, schedule_placed_order),
    Subscription(CONSUMER, ORDER_CONFIRMED, confirm_order),
    Subscription(CONSUMER, ORDER_FAILED, cancel_closed_order),
    Subscription(CONSUMER, ORDER_CANCELLED, cancel_closed_order),
]
