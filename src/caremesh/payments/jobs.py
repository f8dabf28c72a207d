"""The job that resolves payment and refund attempts abandoned between their two transactions."""

from __future__ import annotations

import structlog

from caremesh.payments import service
from caremesh.payments.gateway import PaymentGateway, gateway_for
from caremesh.platform.jobs import PollingJob
from caremesh.platform.uow import UnitOfWorkFactory

log = structlog.get_logger("caremesh.payments")


class AbandonedAttemptResolver(PollingJob):
    """Settles card payments and refunds whose request died (or whose gateway adapter failed) between step 1
    and step 3 and were never retried, so their reservation does not block the invoice for ever. What counts
    as abandoned, and when, is decided by the unit-of-work factory's clock."""

    name = "payments-abandoned-attempts"
    poll_seconds = 5.0

    def __init__(
        self, uow_factory: UnitOfWorkFactory, gateway: PaymentGateway | None = None, *, batch_size: int = 20
    ) -> None:
        self.uow_factory = uow_factory
        self._gateway = gateway
        self.batch_size = batch_size

    @property
    def gateway(self) -> PaymentGateway:
        """The app's gateway (the one its routes use), unless one was given."""
        if self._gateway is not None:
            return self._gateway
        return gateway_for(self.uow_factory, self.uow_factory.settings.payments)

    async def run_once(self) -> int:
        """Resolve one batch of abandoned attempts; returns how many were resolved."""
        factory = self.uow_factory
        async with factory.db.read_sessionmaker() as session:
            due = await service.abandoned_attempts(
                session, factory.clock.now(), factory.settings, limit=self.batch_size
            )
        resolved = 0
        for row_id in due:
            try:
                if await service.resolve_abandoned(lambda: factory.begin(request_id=self.name), self.gateway, row_id):
                    resolved += 1
                    log.info("payment_attempt_resolved", idempotency_key_id=str(row_id))
            except Exception as error:  # taken over: it counts as abandoned again later, and is retried then
                log.warning(
                    "payment_attempt_unresolved",
                    idempotency_key_id=str(row_id),
                    error_type=type(error).__name__,
                    exc_info=error,
                )
        return resolved


JOBS = [AbandonedAttemptResolver]
