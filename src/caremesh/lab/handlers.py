"""Consumers of the order saga's events: lab's part in the saga (see `platform.fulfilment` and
`platform.capacity.booking`): it books an order's tests, marks them resultable when the order is confirmed, and
gives the slots back when it fails or is cancelled. Other order types' events are ignored."""

from __future__ import annotations

from typing import Any

from caremesh.lab.service import BOOKINGS
from caremesh.orders.contract import OrderCancelled, OrderConfirmed, OrderFailed, OrderPlaced, OrderType
from caremesh.platform.messaging.bus import Subscription

LAB = BOOKINGS.participant(consumer="lab", order_type=OrderType.LAB)

SUBSCRIPTIONS: list[Subscription[Any]] = LAB.subscriptions(
    placed=OrderPlaced, confirmed=OrderConfirmed, closing=(OrderFailed, OrderCancelled)
)
