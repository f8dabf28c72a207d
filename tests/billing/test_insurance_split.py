"""API.md §Billing step 5 with the insurance context: the patient's active coverage for the category decides the
insurer's share; the default applies only when no scheme does."""

from __future__ import annotations

import itertools
from typing import Any

from tests.builders.billing import INSURANCE, completed_visit_invoice
from tests.builders.orders import invoices_of, parties, place_order, prescription, stock_medication
from tests.builders.patients import make_patient

API = "/api/v1"
_serial = itertools.count(1)


async def _post(env: Any, path: str, body: dict[str, Any] | None = None, expected: int = 201) -> dict[str, Any]:
    response = await env.client.post(f"{API}{path}", json=body, headers=env.admin)
    assert response.status_code == expected, response.text
    return response.json()


async def scheme_with(env: Any, **percent_by_category: str) -> dict[str, Any]:
    """A payer and an active scheme with a benefit per category at these coverage percents."""
    n = next(_serial)
    payer = await _post(env, "/payers", {"code": f"PAYER{n}", "name": f"Payer {n}"})
    scheme = await _post(env, "/schemes", {"payer_id": payer["id"], "code": f"SCH{n}", "name": f"Scheme {n}"})
    for category, percent in percent_by_category.items():
        benefit = {
            "category": category,
            "coverage_percent": percent,
            "copay_amount": "0.00",
            "deductible": "0.00",
            "annual_limit": None,
            "requires_preauth": False,
        }
        await _post(env, f"/schemes/{scheme['id']}/benefits", benefit)
    return scheme


async def enrol(env: Any, patient: dict[str, Any], scheme: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "patient_id": patient["id"],
        "scheme_id": scheme["id"],
        "member_id": f"M-{next(_serial):05d}",
        "valid_from": "2000-01-01",
        **overrides,
    }
    return await _post(env, "/coverages", body)


async def test_the_schemes_coverage_percent_splits_a_visit(env):
    patient = await make_patient(env, insurance=INSURANCE)
    await enrol(env, patient, await scheme_with(env, consultation="80.00"))

    invoice = await completed_visit_invoice(env, patient=patient)

    # API.md's example without prior visits: total 1680.00, of which the scheme pays 80 %.
    assert (invoice["total"], invoice["coverage_percent"]) == ("1680.00", "80.00")
    assert (invoice["insurance_amount"], invoice["patient_amount"]) == ("1344.00", "336.00")


async def test_a_scheme_without_a_benefit_for_the_category_pays_nothing(env):
    patient = await make_patient(env, insurance=INSURANCE)
    await enrol(env, patient, await scheme_with(env, lab="100.00"))

    invoice = await completed_visit_invoice(env, patient=patient)

    assert (invoice["insurance_amount"], invoice["patient_amount"]) == ("0.00", "1680.00")


async def test_a_suspended_scheme_or_an_expired_coverage_pays_nothing(env):
    suspended_patient = await make_patient(env, insurance=INSURANCE)
    scheme = await scheme_with(env, consultation="80.00")
    await enrol(env, suspended_patient, scheme)
    await _post(env, f"/schemes/{scheme['id']}/suspend", expected=200)
    expired_patient = await make_patient(env, insurance=INSURANCE)
    await enrol(env, expired_patient, await scheme_with(env, consultation="80.00"), valid_to="2001-12-31")

    for patient in (suspended_patient, expired_patient):
        invoice = await completed_visit_invoice(env, patient=patient)
        assert (invoice["insurance_amount"], invoice["patient_amount"]) == ("0.00", "1680.00")


async def test_insurance_identifiers_without_a_scheme_fall_back_to_the_default(env):
    invoice = await completed_visit_invoice(env, insured=True)
    assert (invoice["coverage_percent"], invoice["insurance_amount"]) == ("90.00", "1512.00")
    uninsured = await completed_visit_invoice(env, insured=False)
    assert (uninsured["coverage_percent"], uninsured["insurance_amount"]) == ("0.00", "0.00")


async def test_a_prescription_is_split_by_the_pharmacy_benefit(env):
    patient, practitioner = await parties(env)
    await enrol(env, patient, await scheme_with(env, consultation="80.00", pharmacy="50.00"))
    medication = await stock_medication(env, stock=10, unit_price="100.00")

    placed = await place_order(env, prescription(patient, practitioner, (medication, 1)))
    await env.drain()

    [invoice] = await invoices_of(env, placed["id"])
    # 100.00 + GST 12.00 = 112.00; the pharmacy benefit pays half.
    assert (invoice["total"], invoice["insurance_amount"], invoice["patient_amount"]) == ("112.00", "56.00", "56.00")
