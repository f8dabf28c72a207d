"""Consumers of pharmacy's, lab's and imaging's answers (the saga's steps)."""

from __future__ import annotations

from typing import Any

import structlog

from caremesh.imaging import contract as imaging
from caremesh.lab import contract as lab
from caremesh.orders import service
from caremesh.pharmacy import contract as pharmacy
from caremesh.platform.messaging.bus import Subscription

CONSUMER = "orders"
log = structlog.get_logger("caremesh.orders")

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(CONSUMER, pharmacy.MedicationReserved, service.first_step_taken),
    Subscription(CONSUMER, pharmacy.MedicationReservationFailed, service.first_step_refused),
    Subscription(CONSUMER, pharmacy.MedicationReleased, service.compensated),
    Subscription(CONSUMER, pharmacy.MedicationDispensed, service.item_done),
    Subscription(CONSUMER, lab.LabScheduled, service.first_step_taken),
    Subscription(CONSUMER, lab.LabSchedulingFailed, service.first_step_refused),
    Subscription(CONSUMER, lab.LabCancelled, service.compensated),
    Subscription(CONSUMER, lab.LabResultReady, service.item_done),
    Subscription(CONSUMER, imaging.ImagingScheduled, service.first_step_taken),
    Subscription(CONSUMER, imaging.ImagingSchedulingFailed, service.first_step_refused),
    Subscription(CONSUMER, imaging.ImagingCancelled, service.compensated),
    Subscription(CONSUMER, imaging.ImagingReported, service.item_done),
]
