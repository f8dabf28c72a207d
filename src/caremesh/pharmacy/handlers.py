"""Consumers of the orders saga's events: pharmacy's part in the saga (see `platform.fulfilment`): reserve on
order.placed, allow dispensing on order.confirmed, release on order.failed and order.cancelled. Lab orders are not
pharmacy's: their events are ignored."""

from __future__ import annotations

from typing import Any

from caremesh.orders.contract import OrderCancelled, OrderConfirmed, OrderFailed, OrderPlaced, OrderType
from caremesh.pharmacy import service
from caremesh.platform.fulfilment import Participant
from caremesh.platform.messaging.bus import Subscription

CONSUMER = "pharmacy"

PHARMACY = Participant(
    consumer=CONSUMER,
    order_type=OrderType.PRESCRIPTION,
    take=service.reserve_for_order,
    confirm=service.order_confirmed,
    give_back=service.release_for_order,
)

SUBSCRIPTIONS: list[Subscription[Any]] = PHARMACY.subscriptions(
    placed=OrderPlaced, confirmed=OrderConfirmed, closing=(OrderFailed, OrderCancelled)
)
