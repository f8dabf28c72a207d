"""Builders for insurance: payers, schemes with benefits, coverages and pre-authorisations through the API."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from typing import Any

from caremesh.billing import contract as billing_contract
from tests.builders.patients import make_patient
from tests.harness import T0

API = "/api/v1"
PAYERS = f"{API}/payers"
SCHEMES = f"{API}/schemes"
COVERAGES = f"{API}/coverages"
PREAUTHS = f"{API}/preauthorizations"
VERIFY = f"{API}/coverage/verify"

_serial = itertools.count(1)


async def _post(env: Any, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=headers or env.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def make_payer(env: Any, **overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    return await _post(env, PAYERS, {"code": f"PAYER-{n}", "name": f"Payer {n}", **overrides})


def benefit_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "consultation",
        "coverage_percent": "80.00",
        "copay_amount": "0.00",
        "deductible": "0.00",
        "annual_limit": None,
        "requires_preauth": False,
    }
    body.update(overrides)
    return body


async def make_scheme(env: Any, payer: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    payer = payer or await make_payer(env)
    n = next(_serial)
    return await _post(
        env, SCHEMES, {"payer_id": payer["id"], "code": f"SCHEME-{n}", "name": f"Scheme {n}", **overrides}
    )


async def add_benefit(env: Any, scheme: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return await _post(env, f"{SCHEMES}/{scheme['id']}/benefits", benefit_body(**overrides))


async def add_rate(env: Any, scheme: dict[str, Any], min_age: int, max_age: int | None, premium: str) -> dict[str, Any]:
    body = {"min_age": min_age, "max_age": max_age, "monthly_premium": premium}
    return await _post(env, f"{SCHEMES}/{scheme['id']}/premium-rates", body)


async def make_coverage(
    env: Any,
    *,
    patient: dict[str, Any] | None = None,
    scheme: dict[str, Any] | None = None,
    valid_from: str = "2030-01-01",
    **overrides: Any,
) -> dict[str, Any]:
    patient = patient or await make_patient(env)
    scheme = scheme or await make_scheme(env)
    body = {
        "patient_id": patient["id"],
        "scheme_id": scheme["id"],
        "member_id": f"M-{next(_serial)}",
        "valid_from": valid_from,
        **overrides,
    }
    return await _post(env, COVERAGES, body)


async def insured_patient(env: Any, **benefit: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A patient covered from 2030-01-01 by a new scheme with one benefit: (patient, scheme, coverage)."""
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    await add_benefit(env, scheme, **benefit)
    coverage = await make_coverage(env, patient=patient, scheme=scheme)
    return patient, scheme, coverage


async def preauthorize(env: Any, coverage: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "coverage_id": coverage["id"],
        "category": "consultation",
        "valid_from": "2030-01-01",
        "valid_to": "2030-12-31",
        **overrides,
    }
    return await _post(env, PREAUTHS, body)


async def verify(
    env: Any,
    patient: dict[str, Any],
    amount: str,
    *,
    category: str = "consultation",
    service_date: str = "2030-01-07",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = {"patient_id": patient["id"], "category": category, "amount": amount, "service_date": service_date}
    response = await env.client.post(VERIFY, json=body, headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()


# --- edits, premiums, agents and commissions (issue 16) -------------------------------------------------------

AGENTS = f"{API}/agents"
PREMIUM_RUN = f"{API}/premium-invoices/run"
PREMIUM_BILLINGS = f"{API}/premium-billings"
COMMISSIONS = f"{API}/commissions"
PAYOUTS = f"{API}/commission-payouts"


async def patch(
    env: Any, path: str, body: dict[str, Any], version: int | str | None = None, headers: dict[str, str] | None = None
) -> Any:
    """PATCH `path` with `If-Match: "<version>"` (left out when None)."""
    sent = dict(headers or env.admin)
    if version is not None:
        sent["If-Match"] = f'"{version}"'
    return await env.client.patch(path, json=body, headers=sent)


async def make_agent(env: Any, percent: str = "10.00", **overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    return await _post(
        env, AGENTS, {"code": f"AG-{n}", "name": f"Agent {n}", "commission_percent": percent, **overrides}
    )


async def run_premiums(env: Any, period: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await env.client.post(PREMIUM_RUN, json={"period": period}, headers=headers or env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def premium_billings(env: Any, **filters: Any) -> list[dict[str, Any]]:
    response = await env.client.get(PREMIUM_BILLINGS, params=filters, headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def invoice_event(kind: str, billing: dict[str, Any], invoice_id: uuid.UUID, total: str) -> Any:
    """Billing's invoice.issued or invoice.paid for a premium billing's invoice, as billing publishes them."""
    common = {
        "invoice_id": invoice_id,
        "number": f"INV-2030-{next(_serial):06d}",
        "patient_id": uuid.UUID(billing["patient_id"]),
        "total": Decimal(total),
        "patient_amount": Decimal(total),
        "kind": "premium",
        "premium_billing_id": uuid.UUID(billing["id"]),
    }
    if kind == "issued":
        return billing_contract.InvoiceIssued(
            **common,
            appointment_id=None,
            order_id=None,
            subtotal=Decimal(total),
            discount_amount=Decimal("0.00"),
            tax_amount=Decimal("0.00"),
            insurance_amount=Decimal("0.00"),
            balance_due=Decimal(total),
            currency="INR",
            issued_at=T0,
        )
    return billing_contract.InvoicePaid(**common, amount_paid=Decimal(total), currency="INR", paid_at=T0)


async def publish_as_billing(env: Any, *events: Any) -> None:
    """Publish billing's events through the outbox (as billing would) without delivering them."""
    async with env.uow() as uow:
        for event in events:
            uow.publish(event)
