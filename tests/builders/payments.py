"""Builders for payments: invoices to pay, payment and refund requests, and what a refusal must leave alone."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from prometheus_client import REGISTRY

from caremesh.payments.api import gateway_of
from caremesh.payments.gateway import SimulatedGateway
from tests.builders.billing import INVOICES, completed_visit_invoice
from tests.harness import assert_problem, every_page, outbox_payloads

__all__ = ["assert_problem", "outbox_payloads"]  # re-exported for the payments suites

PAYMENTS = "/api/v1/payments"
# An uninsured cardiology visit (API.md's example without prior visits): the patient owes all of it.
FULL_PRICE = "1680.00"


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


def payment_body(invoice_id: str, amount: str = "100.00", method: str = "cash", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"invoice_id": str(invoice_id), "amount": amount, "method": method}
    if method == "card":
        body["card_token"] = "tok_visa"
    body.update(overrides)
    return body


def with_key(headers: dict[str, str], key: str | bytes | None) -> dict[str, Any]:
    return {**headers, "Idempotency-Key": key or new_key()}


async def pay(
    env: Any,
    invoice_id: str,
    amount: str = "100.00",
    method: str = "cash",
    *,
    key: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    **overrides: Any,
) -> httpx.Response:
    """POST /payments (with a new Idempotency-Key unless one is given) and return the raw response."""
    body = payment_body(invoice_id, amount, method, **overrides)
    return await env.client.post(PAYMENTS, json=body, headers=with_key(headers or env.admin, key))


async def make_payment(env: Any, invoice_id: str, amount: str = "100.00", method: str = "cash", **kw: Any) -> dict:
    response = await pay(env, invoice_id, amount, method, **kw)
    assert response.status_code == 201, response.text
    return response.json()


async def refund(
    env: Any,
    payment_id: str,
    amount: str = "10.00",
    reason: str = "Charged twice at the desk",
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"amount": amount, "reason": reason}
    return await env.client.post(
        f"{PAYMENTS}/{payment_id}/refunds", json=body, headers=with_key(headers or env.admin, key)
    )


async def unpaid_invoice(env: Any, **visit: Any) -> dict[str, Any]:
    """An issued invoice of an uninsured patient's completed visit: FULL_PRICE is due."""
    invoice = await completed_visit_invoice(env, insured=False, **visit)
    assert (invoice["status"], invoice["balance_due"]) == ("issued", FULL_PRICE), invoice
    return invoice


async def invoice(env: Any, invoice_id: str) -> dict[str, Any]:
    response = await env.client.get(f"{INVOICES}/{invoice_id}", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


def simulated_gateway(env: Any) -> SimulatedGateway:
    gateway = gateway_of(env.app)
    assert isinstance(gateway, SimulatedGateway)
    return gateway


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def snapshot(env: Any, invoice_id: str | None = None) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    state: dict[str, Any] = {
        "payments": await env.count("payments"),
        "refunds": await env.count("refunds"),
        "keys": await env.count("idempotency_keys"),
        "outbox": await env.outbox_types(),
        "audit": await env.count("audit_events", "action LIKE 'payment.%' OR action LIKE 'refund.%'"),
    }
    if invoice_id is not None:
        figures = await invoice(env, invoice_id)
        state["invoice"] = {k: figures[k] for k in ("status", "amount_paid", "balance_due")}
    return state


def dec(value: str) -> Decimal:
    return Decimal(value)


# --- issue 16: refunds read, stored payment methods, daily settlement ------------------------------------------------

REFUNDS = "/api/v1/refunds"
PAYMENT_METHODS = "/api/v1/payment-methods"
SETTLEMENTS = "/api/v1/settlements"


async def store_method(
    env: Any,
    patient_id: str,
    token: str = "tok_visa",
    kind: str = "card",
    label: str = "Personal Visa",
    *,
    headers: dict[str, str] | None = None,
    key: str | None = None,
) -> httpx.Response:
    """POST /payment-methods (with an Idempotency-Key when given)."""
    body = {"patient_id": str(patient_id), "type": kind, "token": token, "label": label}
    sent = {**(headers or env.admin), **({"Idempotency-Key": key} if key else {})}
    return await env.client.post(PAYMENT_METHODS, json=body, headers=sent)


async def stored_method(env: Any, patient_id: str, token: str = "tok_visa", kind: str = "card", **kw: Any) -> dict:
    response = await store_method(env, patient_id, token, kind, **kw)
    assert response.status_code == 201, response.text
    return response.json()


async def settlement(env: Any, day: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await env.client.get(f"{SETTLEMENTS}/{day}", headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def close_day(env: Any, day: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await env.client.post(f"{SETTLEMENTS}/{day}/close", headers=headers or env.admin)


def by_method(figures: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """A settlement's payments or refunds per method, as {method: (count, amount)}."""
    return {row["method"]: (row["count"], row["amount"]) for row in figures["by_method"]}


async def every_payment_of(env: Any, invoice_id: str) -> list[dict[str, Any]]:
    return await every_page(env, PAYMENTS, invoice_id=invoice_id)
