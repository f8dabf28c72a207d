"""Integration events that only tests publish, to exercise the messaging machinery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class Happened(IntegrationEvent):
    event_type: ClassVar[str] = "test.happened"

    n: int


@dataclass(frozen=True, kw_only=True)
class Followed(IntegrationEvent):
    event_type: ClassVar[str] = "test.followed"

    n: int
