"""Integration events of identity."""

from __future__ import annotations

import uuid
from dataclasses import field
from datetime import datetime

from caremesh.platform.messaging.events import IntegrationEvent, integration_event


@integration_event("user.password_reset_requested")
class PasswordResetRequested(IntegrationEvent):
    """Carries the one-time reset token for the notifications context to deliver; never logged."""

    user_id: uuid.UUID
    email: str
    reset_token: str = field(repr=False)
    expires_at: datetime


PASSWORD_RESET_REQUESTED = PasswordResetRequested.event_type


@integration_event("user.email_verification_requested")
class EmailVerificationRequested(IntegrationEvent):
    """A self-registered patient's one-time token that proves the address, for the notifications context to
    deliver; never logged."""

    user_id: uuid.UUID
    email: str
    verification_token: str = field(repr=False)
    expires_at: datetime


EMAIL_VERIFICATION_REQUESTED = EmailVerificationRequested.event_type
