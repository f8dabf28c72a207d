"""Consumers of the order saga's events: lab's part in the saga (see `platform.fulfilment`): it books an order's
tests, marks them resultable when the order is confirmed, and gives the slots back when it fails or is cancelled.
Prescriptions are pharmacy's: their events are ignored."""

from __future__ import annotations

from typing import Any

from caremesh.lab import service
from caremesh.orders.contract import LabItem, OrderCancelled, OrderConfirmed, OrderFailed, OrderPlaced, OrderType
from caremesh.platform.fulfilment import Participant
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork

CONSUMER = "lab"


async def schedule_placed_order(uow: UnitOfWork, event: OrderPlaced, envelope: Envelope) -> None:
    tests = [item.lab_test_id for item in event.items if isinstance(item, LabItem)]
    await service.schedule_order(uow, event.order_id, event.patient_id, tests)


async def confirm_order(uow: UnitOfWork, event: OrderConfirmed, envelope: Envelope) -> None:
    await service.confirm_order(uow, event.order_id)


async def cancel_closed_order(uow: UnitOfWork, event: OrderFailed | OrderCancelled, envelope: Envelope) -> None:
    """order.failed and order.cancelled; the reason lab.cancelled carries is the event's name."""
    await service.close_order(uow, event.order_id, event.patient_id, event.event_type)


LAB = Participant(
    consumer=CONSUMER,
    order_type=OrderType.LAB,
    take=schedule_placed_order,
    confirm=confirm_order,
    give_back=cancel_closed_order,
)

SUBSCRIPTIONS: list[Subscription[Any]] = LAB.subscriptions(
    placed=OrderPlaced, confirmed=OrderConfirmed, closing=(OrderFailed, OrderCancelled)
)
