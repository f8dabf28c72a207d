"""Gateways that misbehave on cue. Each is the simulated gateway (which remembers answers per
idempotency key) with one fault in front of it; install one with `use_gateway`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from caremesh.payments.gateway import GatewayResult, GatewayUnavailable, SimulatedGateway


def use_gateway(env: Any, gateway: SimulatedGateway) -> SimulatedGateway:
    env.app.state.payment_gateway = gateway  # where caremesh.payments.api.gateway_of keeps the app's gateway
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
