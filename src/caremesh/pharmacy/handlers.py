"""Consumers of the orders saga's events: reserve on order.placed, allow dispensing on order.confirmed, release on
order.failed and order.cancelled. Lab orders are not pharmacy's: their events are ignored."""

from __future__ import annotations

from typing import Any

from caremesh.orders.contract import OrderCancelled, OrderConfirmed, OrderFailed, OrderPlaced
from caremesh.pharmacy import service
from caremesh.platform.messaging.bus import Subscription

CONSUMER = "pharmacy"

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(CONSUMER, OrderPlaced, service.reserve_for_order),
    Subscription(CONSUMER, OrderConfirmed, service.order_confirmed),
    Subscription(CONSUMER, OrderFailed, service.release_for_order),
    Subscription(CONSUMER, OrderCancelled, service.release_for_order),
]
