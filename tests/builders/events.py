"""Integration events that only tests publish, to exercise the messaging machinery."""

from __future__ import annotations

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@integration_event("test.happened")
class Happened(IntegrationEvent):
    n: int


@integration_event("test.followed")
class Followed(IntegrationEvent):
    n: int
