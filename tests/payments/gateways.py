"""Gateways that misbehave on cue. Each is the simulated gateway (which remembers answers per
idempotency key) with one fault in front of it; install one with `use_gateway`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from caremesh.payments.gateway import GatewayResult, GatewayUnavailable, SimulatedGateway, install_gateway


def use_gateway(env: Any, gateway: SimulatedGateway) -> SimulatedGateway:
    """The app's gateway from now on, for its routes and its background job alike."""
    install_gateway(env.app.state.uow_factory, gateway)
    return gateway


@dataclass
class GatedGateway(SimulatedGateway):
    """Holds each charge at the gateway until the test opens the gate."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        self.entered.set()
        await self.gate.wait()
        return await super().charge(token, amount, currency, idempotency_key)


@dataclass
class FlakyGateway(SimulatedGateway):
    """Unavailable for the first `outages` calls (charges and refunds), then itself again."""

    outages: int = 1

    def _outage(self) -> None:
        if self.outages > 0:
            self.outages -= 1
            raise GatewayUnavailable("connection refused")

    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        self._outage()
        return await super().charge(token, amount, currency, idempotency_key)

    async def refund(
        self, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        self._outage()
        return await super().refund(charge_reference, amount, currency, idempotency_key)


@dataclass
class SlowGateway(SimulatedGateway):
    """Answers after `delay` seconds."""

    delay: float = 5.0

    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        await asyncio.sleep(self.delay)
        return await super().charge(token, amount, currency, idempotency_key)


class ProcessDied(RuntimeError):
    pass


@dataclass
class CrashAfterChargeGateway(SimulatedGateway):
    """Charges the card, then the server 'dies' before it can record the answer (while `crashing`)."""

    crashing: bool = True

    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        result = await super().charge(token, amount, currency, idempotency_key)
        if self.crashing:
            raise ProcessDied("the server died between the gateway's answer and the second transaction")
        return result


@dataclass
class CrashAfterRefundGateway(SimulatedGateway):
    """Refunds the card, then the server 'dies' before it can record the answer (while `crashing`)."""

    crashing: bool = True

    async def refund(
        self, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        result = await super().refund(charge_reference, amount, currency, idempotency_key)
        if self.crashing:
            raise ProcessDied("the server died between the gateway's answer and the second transaction")
        return result


@dataclass
class BrokenGateway(SimulatedGateway):
    """The adapter fails unexpectedly before the charge or refund reaches the gateway (while `broken`): the
    gateway never sees it, as when the server dies between the first transaction and the gateway call."""

    broken: bool = True

    def _fail(self) -> None:
        if self.broken:
            raise ProcessDied("the adapter crashed before it reached the gateway")

    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        self._fail()
        return await super().charge(token, amount, currency, idempotency_key)

    async def refund(
        self, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        self._fail()
        return await super().refund(charge_reference, amount, currency, idempotency_key)


@dataclass
class GatedLookupGateway(CrashAfterChargeGateway):
    """Charges then 'dies' like CrashAfterChargeGateway; a lookup by key waits until the test opens the gate,
    and fails while `lookups_fail`."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    lookups_fail: bool = False

    async def find_charge(self, idempotency_key: str) -> GatewayResult | None:
        self.entered.set()
        await self.gate.wait()
        if self.lookups_fail:
            raise GatewayUnavailable("connection refused")
        return await super().find_charge(idempotency_key)
