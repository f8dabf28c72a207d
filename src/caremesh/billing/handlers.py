"""Consumers of other contexts' events: consultation invoices follow the appointment's lifecycle.

`CAREMESH_BILL_ON=completed` (default) invoices a visit when it is completed; `booked` invoices it
when booked and voids the invoice when the appointment is cancelled. Both subscriptions always run
and read the setting, so changing it needs no other wiring.
"""

from __future__ import annotations

from typing import Any

import structlog

from caremesh.billing import errors, service
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork
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


SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(CONSUMER, AppointmentCompleted, invoice_completed_visit),
    Subscription(CONSUMER, AppointmentBooked, invoice_booked_visit),
    Subscription(CONSUMER, AppointmentCancelled, void_cancelled_visit),
]
