"""Integration events of identity."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from caremesh.platform.messaging.events import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class PasswordResetRequested(IntegrationEvent):
    """Carries the one-time reset token for the notifications context to deliver; never logged."""

    event_type: ClassVar[str] = "user.password_reset_requested"

    user_id: uuid.UUID
    email: str
    reset_token: str = field(repr=False)
    expires_at: datetime


PASSWORD_RESET_REQUESTED = PasswordResetRequested.event_type
