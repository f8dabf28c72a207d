"""Consumers of pharmacy's and lab's answers (the saga's steps), and the job that fails stuck orders."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog

from caremesh.lab import contract as lab
from caremesh.orders import service
from caremesh.pharmacy import contract as pharmacy
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.uow import UnitOfWorkFactory

CONSUMER = "orders"
log = structlog.get_logger("caremesh.orders")

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(CONSUMER, pharmacy.MedicationReserved, service.stock_reserved),
    Subscription(CONSUMER, pharmacy.MedicationReservationFailed, service.first_step_refused),
    Subscription(CONSUMER, pharmacy.MedicationReleased, service.compensated),
    Subscription(CONSUMER, pharmacy.MedicationDispensed, service.item_done),
    Subscription(CONSUMER, lab.LabScheduled, service.lab_scheduled),
    Subscription(CONSUMER, lab.LabSchedulingFailed, service.first_step_refused),
    Subscription(CONSUMER, lab.LabCancelled, service.compensated),
    Subscription(CONSUMER, lab.LabResultReady, service.item_done),
]


class SagaTimeout:
    """Fails orders still pending after `CAREMESH_ORDER_SAGA_TIMEOUT_SECONDS` (SAGA_TIMEOUT), which makes
    pharmacy and lab give back whatever they took for them."""

    name = "orders-saga-timeout"
    poll_seconds = 5.0

    def __init__(self, uow_factory: UnitOfWorkFactory, *, batch_size: int = 50) -> None:
        self.uow_factory = uow_factory
        self.batch_size = batch_size

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.uow_factory.settings.orders.order_saga_timeout_seconds)

    async def run_once(self) -> int:
        factory = self.uow_factory
        async with factory.db.read_sessionmaker() as session:
            due = await service.overdue_orders(session, factory.clock.now(), self.timeout, limit=self.batch_size)
        failed = 0
        for order_id in due:
            async with factory.begin(request_id=self.name) as uow:
                if await service.time_out(uow, order_id, self.timeout):
                    failed += 1
                    log.warning("order_saga_timed_out", order_id=str(order_id))
        return failed

    async def run_forever(self) -> None:
        while True:
            try:
                if await self.run_once() >= self.batch_size:
                    continue
            except Exception as error:  # the job must outlive a bad moment of the database
                log.error("order_saga_timeout_failed", error_type=type(error).__name__, exc_info=error)
            await asyncio.sleep(self.poll_seconds)


JOBS = [SagaTimeout]
