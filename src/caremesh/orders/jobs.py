"""The job that fails orders stuck in the saga."""

from __future__ import annotations

from datetime import timedelta

import structlog

from caremesh.orders import service
from caremesh.platform.jobs import PollingJob
from caremesh.platform.uow import UnitOfWorkFactory

log = structlog.get_logger("caremesh.orders")


class SagaTimeout(PollingJob):
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


JOBS = [SagaTimeout]
