"""The FHIR facade consumes no events."""

from caremesh.platform.messaging.bus import Subscription

SUBSCRIPTIONS: list[Subscription] = []
