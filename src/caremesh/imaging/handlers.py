"""Consumers of the order saga's events: imaging's part in the saga (see `platform.fulfilment`): it books an order's
studies, marks them reportable when the order is confirmed, and gives the slots back when it fails or is cancelled.
Other order types' events are ignored."""

from __future__ import annotations

from typing import Any

from caremesh.imaging import service
from caremesh.orders.contract import (
    ImagingItem,
    OrderCancelled,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    OrderType,
)
from caremesh.platform.fulfilment import Participant
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork

CONSUMER = "imaging"


async def schedule_placed_order(uow: UnitOfWork, event: OrderPlaced, envelope: Envelope) -> None:
    studies = [item.imaging_study_id for item in event.items if isinstance(item, ImagingItem)]
    await service.schedule_order(uow, event.order_id, event.patient_id, studies)


async def confirm_order(uow: UnitOfWork, event: OrderConfirmed, envelope: Envelope) -> None:
    await service.confirm_order(uow, event.order_id)


async def cancel_closed_order(uow: UnitOfWork, event: OrderFailed | OrderCancelled, envelope: Envelope) -> None:
    """order.failed and order.cancelled; the reason imaging.cancelled carries is the event's name."""
    await service.close_order(uow, event.order_id, event.patient_id, event.event_type)


IMAGING = Participant(
    consumer=CONSUMER,
    order_type=OrderType.IMAGING,
    take=schedule_placed_order,
    confirm=confirm_order,
    give_back=cancel_closed_order,
)

SUBSCRIPTIONS: list[Subscription[Any]] = IMAGING.subscriptions(
    placed=OrderPlaced, confirmed=OrderConfirmed, closing=(OrderFailed, OrderCancelled)
)
