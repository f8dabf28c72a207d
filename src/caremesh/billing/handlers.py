"""Consumers of other contexts' events: consultation invoices follow the appointment's lifecycle, a visit's
billing follows its procedures (medical records), and insurance's premiums due become premium invoices.

`CAREMESH_BILL_ON=completed` (default) invoices a visit when it is completed; `booked` invoices it
when booked and voids the invoice when the appointment is cancelled. Billing subscribes only to the events
the setting needs (a steady stream of bookings must not queue ahead of the completions it bills); each
handler still reads the setting, for deliveries queued before it changed.
"""

from __future__ import annotations

from typing import Any

import structlog

from caremesh.billing import errors, manual_invoices, procedures, service
from caremesh.insurance.contract import PremiumBilled
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.settings import Settings
from caremesh.platform.uow import UnitOfWork
from caremesh.records.contract import (
    MedicalRecordAmended,
    MedicalRecordChanged,
    MedicalRecordCreated,
    MedicalRecordRetracted,
    RecordType,
)
from caremesh.scheduling.contract import AppointmentBooked, AppointmentCancelled, AppointmentCompleted

CONSUMER = "billing"
log = structlog.get_logger("caremesh.billing")


async def invoice_completed_visit(uow: UnitOfWork, event: AppointmentCompleted, envelope: Envelope) -> None:
    if uow.settings.billing.bill_on == "completed":
        await service.issue_for_appointment(uow, event.appointment_id, number_at_commit=True)


async def invoice_booked_visit(uow: UnitOfWork, event: AppointmentBooked, envelope: Envelope) -> None:
    if uow.settings.billing.bill_on != "booked":
        return
    try:
        await service.issue_for_appointment(uow, event.appointment_id, number_at_commit=True)
    except errors.AppointmentCancelled:
        # Cancelled before this delivery: nothing to bill (deliveries are not ordered).
        log.info("booked_visit_not_billed", appointment_id=str(event.appointment_id), reason="cancelled")


async def void_cancelled_visit(uow: UnitOfWork, event: AppointmentCancelled, envelope: Envelope) -> None:
    if uow.settings.billing.bill_on == "booked":
        await service.void_for_cancelled_appointment(uow, event.appointment_id)


async def follow_procedure(uow: UnitOfWork, event: MedicalRecordChanged, envelope: Envelope) -> None:
    """A visit's procedure recorded, amended or retracted: its billing follows the record as it stands now."""
    if event.type == RecordType.PROCEDURE and event.appointment_id is not None:
        await procedures.follow_procedure(uow, event.appointment_id, event.record_id)


async def invoice_premium(uow: UnitOfWork, event: PremiumBilled, envelope: Envelope) -> None:
    """A member's premium is due: one invoice of kind `premium` per premium billing."""
    await manual_invoices.issue_premium_invoice(uow, event)


def bills_on_completion(settings: Settings) -> bool:
    return settings.billing.bill_on == "completed"


def bills_on_booking(settings: Settings) -> bool:
    return settings.billing.bill_on == "booked"


SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(CONSUMER, AppointmentCompleted, invoice_completed_visit, wanted=bills_on_completion),
    Subscription(CONSUMER, AppointmentBooked, invoice_booked_visit, wanted=bills_on_booking),
    Subscription(CONSUMER, AppointmentCancelled, void_cancelled_visit, wanted=bills_on_booking),
    Subscription(CONSUMER, MedicalRecordCreated, follow_procedure),
    Subscription(CONSUMER, MedicalRecordAmended, follow_procedure),
    Subscription(CONSUMER, MedicalRecordRetracted, follow_procedure),
    Subscription(CONSUMER, PremiumBilled, invoice_premium),
]
