"""Consumers of other contexts' events: consultation invoices follow the appointment's lifecycle.

`CAREMESH_BILL_ON=completed` (default) invoices a visit when it is completed; `booked` invoices it
when booked and voids the invoice when the appointment is cancelled. Both subscriptions always run
and read the setting, so changing it needs no other wiring.
"""

from __future__ import annotations

import uuid

import structlog

from caremesh.billing import service
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork
from caremesh.scheduling.contract import APPOINTMENT_BOOKED, APPOINTMENT_CANCELLED, APPOINTMENT_COMPLETED

CONSUMER = "billing"
log = structlog.get_logger("caremesh.billing")


def _appointment_id(envelope: Envelope) -> uuid.UUID:
    return uuid.UUID(str(envelope.payload["appointment_id"]))


async def invoice_completed_visit(uow: UnitOfWork, envelope: Envelope) -> None:
    if uow.settings.billing.bill_on == "completed":
        await service.issue_for_appointment(uow, _appointment_id(envelope))


async def invoice_booked_visit(uow: UnitOfWork, envelope: Envelope) -> None:
    if uow.settings.billing.bill_on != "booked":
        return
    try:
        await service.issue_for_appointment(uow, _appointment_id(envelope))
    except service.AppointmentCancelled:
        # Cancelled before this delivery: nothing to bill (deliveries are not ordered).
        log.info("booked_visit_not_billed", appointment_id=str(_appointment_id(envelope)), reason="cancelled")


async def void_cancelled_visit(uow: UnitOfWork, envelope: Envelope) -> None:
    if uow.settings.billing.bill_on == "booked":
        await service.void_for_cancelled_appointment(uow, _appointment_id(envelope))


SUBSCRIPTIONS: list[Subscription] = [
    Subscription(CONSUMER, APPOINTMENT_COMPLETED, invoice_completed_visit),
    Subscription(CONSUMER, APPOINTMENT_BOOKED, invoice_booked_visit),
    Subscription(CONSUMER, APPOINTMENT_CANCELLED, void_cancelled_visit),
]
