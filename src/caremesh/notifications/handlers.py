"""Consumers that turn events into queued messages (the dispatcher that sends them is in jobs.py)."""

from __future__ import annotations

from typing import Any

from caremesh.identity import contract as identity
from caremesh.notifications import service
from caremesh.notifications.triggers import PATIENT_EVENTS, PatientEvent
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork

CONSUMER = "notifications"


async def notify_patient(uow: UnitOfWork, event: PatientEvent, envelope: Envelope) -> None:
    await service.notify_patient(uow, event, envelope)


async def send_password_reset(uow: UnitOfWork, event: identity.PasswordResetRequested, envelope: Envelope) -> None:
    await service.send_password_reset(uow, event, envelope)


# A payload these consumers cannot read (no usable patient id, no token) is logged and done with, not retried:
# a message needs a recipient that a retry cannot make up.
SUBSCRIPTIONS: list[Subscription[Any]] = [
    *(Subscription(CONSUMER, event, notify_patient, skip_invalid=True) for event in PATIENT_EVENTS),
    Subscription(CONSUMER, identity.PasswordResetRequested, send_password_reset, skip_invalid=True),
]
