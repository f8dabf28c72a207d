"""Consumers of the order saga's events: imaging's part in the saga (see `platform.fulfilment` and
`platform.capacity.booking`): it books an order's studies, marks them reportable when the order is confirmed, and
gives the slots back when it fails or is cancelled. Other order types' events are ignored."""

from __future__ import annotations

from typing import Any

from caremesh.imaging.service import BOOKINGS
from caremesh.orders.contract import OrderCancelled, OrderConfirmed, OrderFailed, OrderPlaced, OrderType
from caremesh.platform.messaging.bus import Subscription

IMAGING = BOOKINGS.participant(consumer="imaging", order_type=OrderType.IMAGING)

SUBSCRIPTIONS: list[Subscription[Any]] = IMAGING.subscriptions(
    placed=OrderPlaced, confirmed=OrderConfirmed, closing=(OrderFailed, OrderCancelled)
)
