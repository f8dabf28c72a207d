"""The idempotent attempt shared by payments and refunds: its steps, and what each kind does at them."""

from __future__ import annotations

import asyncio
import math
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.payments import domain
from caremesh.payments.errors import GatewayAnswerUnknown, GatewayUnavailableError
from caremesh.payments.gateway import GatewayResult, GatewayUnavailable, PaymentGateway
from caremesh.platform.clock import Clock
from caremesh.platform.idempotency import keys as idempotency
from caremesh.platform.idempotency.keys import Busy, Finished, State
from caremesh.platform.idempotency.models import IdempotencyKey
from caremesh.platform.settings import Settings
from caremesh.platform.uow import UnitOfWork

SCOPE = "payments"  # payments and refunds share one key space per principal
POLL_SECONDS = 0.05

Begin = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
log = structlog.get_logger("caremesh.payments")


@dataclass(frozen=True)
class Outcome:
    """A response as it is stored under its key and replayed."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Pending:
    """What step 1 left for the gateway: a pending payment or refund of the key's `attempt`."""

    key_id: uuid.UUID
    attempt: int
    resource_id: uuid.UUID
    amount: Decimal
    currency: str
    charge_reference: str | None = None  # refunds: the gateway's id of the card charge
    card_token: str | None = None  # payments with a stored card: the token kept with it


def _abandoned_after(settings: Settings) -> timedelta:
    payments = settings.payments
    return domain.abandoned_after(payments.idempotency_wait_seconds, payments.payment_gateway_timeout_seconds)


class _Kind(ABC):
    """What a payment and a refund each do with an attempt once step 1 has created its pending record.
    Shared by the request flow and by the resolver of abandoned attempts, so both settle alike."""

    entity_type: str
    nothing_happened: str

    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway

    @abstractmethod
    async def pending(self, uow: UnitOfWork, row: IdempotencyKey) -> Pending:
        """The key's pending record (locked), to ask the gateway about it again."""

    @abstractmethod
    async def look_up(self, pending: Pending) -> GatewayResult | None:
        """What the gateway did under the attempt's gateway idempotency key; None: it never saw it."""

    @abstractmethod
    async def settle(
        self, uow: UnitOfWork, row: IdempotencyKey, resource_id: uuid.UUID, result: GatewayResult
    ) -> Outcome:
        """Step 3: record the gateway's answer and store the response under the key."""

    @abstractmethod
    async def undo(self, uow: UnitOfWork, resource_id: uuid.UUID) -> None:
        """Give the reservation back and delete the pending record."""

    async def give_up(self, uow: UnitOfWork, row: IdempotencyKey, resource_id: uuid.UUID) -> None:
        """Nothing happened at the gateway: undo the attempt and free the key for a retry."""
        await self.undo(uow, resource_id)
        idempotency.release(row)


class _Flow(ABC):
    """One idempotent creation (a payment or a refund) through the steps of the docstring of
    payments/service.py."""

    operation: str

    def __init__(self, kind: _Kind, key: str, request: dict[str, Any]) -> None:
        self.kind = kind
        self.key = key
        self.fingerprint = idempotency.fingerprint(self.operation, request)

    async def run(self, begin: Begin) -> Outcome:
        deadline: float | None = None
        while True:
            async with begin() as uow:
                step = await self._start(uow)
                settings, clock, read = uow.settings, uow.clock, uow.read_session
            if isinstance(step, Pending):
                step = await self._ask_gateway(begin, step, settings)
            if isinstance(step, Outcome):
                return step
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + settings.payments.idempotency_wait_seconds
            await _wait_for(step, read, clock, deadline)

    async def _start(self, uow: UnitOfWork) -> Outcome | Busy | Pending:
        claim = await idempotency.claim(
            uow, SCOPE, self.key, self.fingerprint, abandoned_after=_abandoned_after(uow.settings)
        )
        if isinstance(claim, Finished):
            return self._replay(uow, claim.row)
        if isinstance(claim, Busy):
            return claim
        return await (self.kind.pending(uow, claim.row) if claim.resumed else self.create(uow, claim.row))

    async def _ask_gateway(self, begin: Begin, pending: Pending, settings: Settings) -> Outcome | Busy:
        try:
            async with asyncio.timeout(settings.payments.payment_gateway_timeout_seconds):
                result = await self.call_gateway(pending)
        except (GatewayUnavailable, TimeoutError):
            async with begin() as uow:
                return await self._release(uow, pending)
        except Exception as error:
            # Whether the gateway acted is unknown: the attempt stays in progress, its amount reserved, until
            # the resolver (or a retry with the key) asks the gateway once the attempt counts as abandoned.
            log.error(
                "payment_gateway_error",
                entity_type=self.kind.entity_type,
                idempotency_key_id=str(pending.key_id),
                error_type=type(error).__name__,
                exc_info=error,
            )
            after = _abandoned_after(settings)
            raise GatewayAnswerUnknown(
                "The gateway's answer was lost. The outcome will be settled from the gateway's records shortly; "
                "retry with the same Idempotency-Key to see it. It is safe.",
                headers={"Retry-After": str(math.ceil(after.total_seconds()))},
            ) from error
        async with begin() as uow:
            row = await idempotency.lock(uow, pending.key_id)
            if row.state == State.COMPLETED:  # a request that resumed this attempt finished it first
                return self._replay(uow, row)
            if row.state != State.IN_PROGRESS or row.resource_id != pending.resource_id:
                # Only possible if an attempt was taken over while its gateway call was still running,
                # which `domain.abandoned_after` rules out; never settle over another attempt.
                raise RuntimeError(f"idempotency key {row.id} changed hands during its gateway call")
            return await self.kind.settle(uow, row, pending.resource_id, result)

    async def _release(self, uow: UnitOfWork, pending: Pending) -> Outcome | Busy:
        row = await idempotency.lock(uow, pending.key_id)
        if row.state == State.COMPLETED:
            return self._replay(uow, row)
        if row.attempt != pending.attempt:  # another request resumed it: its answer counts
            return Busy(row.id, row.attempt, row.claimed_at + _abandoned_after(uow.settings))
        await self.kind.give_up(uow, row, pending.resource_id)
        raise GatewayUnavailableError(
            f"{self.kind.nothing_happened} Retry with the same Idempotency-Key; it is safe.",
            headers={"Retry-After": "5"},
        )

    def _replay(self, uow: UnitOfWork, row: IdempotencyKey) -> Outcome:
        assert row.response_status is not None
        assert row.response_body is not None
        audit.record(uow, f"{self.kind.entity_type}.replay", self.kind.entity_type, row.resource_id)
        return Outcome(row.response_status, row.response_body, replayed=True)

    # What a payment request and a refund request each do at the steps.
    @abstractmethod
    async def create(self, uow: UnitOfWork, row: IdempotencyKey) -> Outcome | Pending:
        """Step 1 for a fresh claim: reserve and insert the pending record; finish at once without a gateway."""

    @abstractmethod
    async def call_gateway(self, pending: Pending) -> GatewayResult:
        """Step 2, under the key row's id as the gateway's idempotency key."""


async def _wait_for(busy: Busy, read: Callable[[], AsyncSession], clock: Clock, deadline: float) -> None:
    """Until the other request's attempt ends or is abandoned; 409 when the wait runs out first."""
    loop = asyncio.get_running_loop()
    while clock.now() < busy.abandoned_at:
        if loop.time() >= deadline:
            raise idempotency.IdempotencyRequestInProgress(
                "Another request with this Idempotency-Key has not finished; retry shortly.",
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(POLL_SECONDS)
        async with read() as session:
            if not await idempotency.still_busy(session, busy):
                return
