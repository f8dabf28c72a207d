"""Consumers of the orders saga's events: reserve on order.placed, allow dispensing on order.confirmed, release on
order.failed and order.cancelled. Lab orders are not pharmacy's: their events are ignored."""

from __future__ import annotations

from caremesh.orders.contract import ORDER_CANCELLED, ORDER_CONFIRMED, ORDER_FAILED, ORDER_PLACED
from caremesh.pharmacy import service
from caremesh.platform.messaging.bus import Subscription

CONSUMER = "pharmacy"

SUBSCRIPTIONS: list[Subscription] = [
    Subscription(CONSUMER, ORDER_PLACED, service.reserve_for_order),
    Subscription(CONSUMER, ORDER_CONFIRMED, service.order_confirmed),
    Subscription(CONSUMER, ORDER_FAILED, service.release_for_order),
    Subscription(CONSUMER, ORDER_CANCELLED, service.release_for_order),
]
