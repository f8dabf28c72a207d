"""Consumers that turn events into queued messages (the dispatcher that sends them is in jobs.py)."""

from __future__ import annotations

from typing import Any

from caremesh.identity import contract as identity
from caremesh.notifications import event_templates, service
from caremesh.notifications.published import templatable_events
from caremesh.notifications.triggers import OFFICE_EVENTS, PATIENT_EVENTS, OfficeEvent, PatientEvent
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.settings import Settings
from caremesh.platform.uow import UnitOfWork

CONSUMER = "notifications"


async def notify_patient(uow: UnitOfWork, event: PatientEvent, envelope: Envelope) -> None:
    await service.notify_patient(uow, event, envelope)


async def notify_billing_office(uow: UnitOfWork, event: OfficeEvent, envelope: Envelope) -> None:
    await service.notify_billing_office(uow, event, envelope)


async def send_password_reset(uow: UnitOfWork, event: identity.PasswordResetRequested, envelope: Envelope) -> None:
    await service.send_password_reset(uow, event, envelope)


async def send_email_verification(
    uow: UnitOfWork, event: identity.EmailVerificationRequested, envelope: Envelope
) -> None:
    await service.send_email_verification(uow, event, envelope)


async def notify_by_template(uow: UnitOfWork, event: IntegrationEvent, envelope: Envelope) -> None:
    await event_templates.notify_by_template(uow, event, envelope)


def has_billing_office(settings: Settings) -> bool:
    return bool(settings.notifications.billing_email)


# A payload these consumers cannot read (no usable patient id, no token) is logged and done with, not retried:
# a message needs a recipient that a retry cannot make up. Every other published event is subscribed to for the
# templates that may be added for it at run time (event_templates).
SUBSCRIPTIONS: list[Subscription[Any]] = [
    *(Subscription(CONSUMER, event, notify_patient, skip_invalid=True) for event in PATIENT_EVENTS),
    *(
        Subscription(CONSUMER, event, notify_billing_office, skip_invalid=True, wanted=has_billing_office)
        for event in OFFICE_EVENTS
    ),
    Subscription(CONSUMER, identity.PasswordResetRequested, send_password_reset, skip_invalid=True),
    Subscription(CONSUMER, identity.EmailVerificationRequested, send_email_verification, skip_invalid=True),
    *(Subscription(CONSUMER, event, notify_by_template, skip_invalid=True) for event in templatable_events().values()),
]
