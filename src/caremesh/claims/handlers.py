from __future__ import annotations

from caremesh.platform.messaging.bus import Subscription

# Claims react to no other context's events: they are created from invoices on request.
SUBSCRIPTIONS: list[Subscription] = []
