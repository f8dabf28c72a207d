"""Builders for insurance: payers, schemes with benefits, coverages and pre-authorisations through the API."""

from __future__ import annotations

import itertools
from typing import Any

from tests.builders.patients import make_patient

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
