"""The payment gateway port and the built-in simulated adapter.

Every call carries an idempotency key: a gateway answers a repeated key with the first answer and
never charges twice, which is what makes retrying an unfinished payment safe. A gateway can also be asked
what it did under a key without acting (`find_charge`, `find_refund`; Stripe: list by the key kept in the
charge's metadata), which is how attempts nobody retries are resolved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol
from weakref import WeakKeyDictionary

from caremesh.platform.settings import PaymentSettings


@dataclass(frozen=True)
class GatewayResult:
    approved: bool
    reference: str | None  # the gateway's id of the charge or refund
    decline_reason: str | None = None


@dataclass(frozen=True)
class CardDetails:
    """What a gateway tells about a card it holds under a token; the number itself never leaves it."""

    last4: str


class GatewayUnavailable(Exception):
    """The gateway did not answer (timeout, connection refused): nothing is known to have happened."""


class PaymentGateway(Protocol):
    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult: ...

    async def refund(
        self, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    async def find_charge(self, idempotency_key: str) -> GatewayResult | None:
        """The answer to the charge made under `idempotency_key`; None when the gateway never saw one."""
        ...

    async def find_refund(self, idempotency_key: str) -> GatewayResult | None:
        """The answer to the refund made under `idempotency_key`; None when the gateway never saw one."""
        ...

    async def card_details(self, token: str) -> CardDetails | None:
        """The card the gateway holds under `token` (Stripe: retrieve the PaymentMethod); None when it holds none."""
        ...


@dataclass
class SimulatedCharge:
    token: str
    amount: Decimal
    currency: str
    result: GatewayResult
    refunded: Decimal = Decimal("0.00")


@dataclass
class SimulatedGateway:
    """Approves tok_visa and tok_mastercard, declines tok_declined and unknown tokens, and times out on
    tok_timeout without charging. Answers are remembered per idempotency key, in memory. Its cards end like the
    test cards of the same name (Stripe's 4242…4242, 5555…4444, and 4000…0002 for the one that declines)."""

    APPROVED = frozenset({"tok_visa", "tok_mastercard"})
    LAST4 = {"tok_visa": "4242", "tok_mastercard": "4444", "tok_declined": "0002"}
    DECLINED = "tok_declined"
    TIMES_OUT = "tok_timeout"

    charges: dict[str, SimulatedCharge] = field(default_factory=dict)  # by idempotency key
    refunds: dict[str, GatewayResult] = field(default_factory=dict)  # by idempotency key
    charge_calls: int = 0

    async def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayResult:
        self.charge_calls += 1
        if (known := self.charges.get(idempotency_key)) is not None:
            return known.result
        if token == self.TIMES_OUT:
            raise GatewayUnavailable("the simulated gateway timed out")
        if token in self.APPROVED:
            result = GatewayResult(approved=True, reference=f"ch_{uuid.uuid4().hex[:24]}")
        elif token == self.DECLINED:
            result = GatewayResult(approved=False, reference=None, decline_reason="card declined")
        else:
            result = GatewayResult(approved=False, reference=None, decline_reason="unknown card token")
        self.charges[idempotency_key] = SimulatedCharge(token, amount, currency, result)
        return result

    async def refund(
        self, charge_reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        if (known := self.refunds.get(idempotency_key)) is not None:
            return known
        charge = next((c for c in self.charges.values() if c.result.reference == charge_reference), None)
        if charge is None:
            result = GatewayResult(approved=False, reference=None, decline_reason="unknown charge")
        elif charge.refunded + amount > charge.amount or currency != charge.currency:
            result = GatewayResult(approved=False, reference=None, decline_reason="refund exceeds the charge")
        else:
            charge.refunded += amount
            result = GatewayResult(approved=True, reference=f"re_{uuid.uuid4().hex[:24]}")
        self.refunds[idempotency_key] = result
        return result

    async def find_charge(self, idempotency_key: str) -> GatewayResult | None:
        known = self.charges.get(idempotency_key)
        return None if known is None else known.result

    async def find_refund(self, idempotency_key: str) -> GatewayResult | None:
        return self.refunds.get(idempotency_key)

    async def card_details(self, token: str) -> CardDetails | None:
        if token == self.TIMES_OUT:
            raise GatewayUnavailable("the simulated gateway timed out")
        last4 = self.LAST4.get(token)
        return None if last4 is None else CardDetails(last4=last4)

    def captured(self) -> Decimal:
        """What the simulated card holders were charged in all."""
        return sum((c.amount for c in self.charges.values() if c.result.approved), Decimal("0.00"))


def build_gateway(settings: PaymentSettings) -> PaymentGateway:
    if settings.payment_gateway == "simulated":
        return SimulatedGateway()
    raise ValueError(f"unknown payment gateway {settings.payment_gateway!r}")


# One gateway per app, shared by its routes and its background job. Kept by the app's unit-of-work
# factory, the one object both are given.
_gateways: WeakKeyDictionary[object, PaymentGateway] = WeakKeyDictionary()


def gateway_for(owner: object, settings: PaymentSettings) -> PaymentGateway:
    """`owner`'s gateway, created on first use from the payment settings."""
    gateway = _gateways.get(owner)
    if gateway is None:
        gateway = _gateways[owner] = build_gateway(settings)
    return gateway


def install_gateway(owner: object, gateway: PaymentGateway) -> None:
    """Use `gateway` for `owner` from now on (tests, other adapters)."""
    _gateways[owner] = gateway
