"""Coverage, Claim and Invoice: read and search, the JSON API's roles and patient scoping, audited reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caremesh.fhir.financial import INVOICE_STATUS, claim_status
from tests.builders.billing import manual_invoice
from tests.builders.claims import insured_invoice, make_claim, submitted_claim
from tests.builders.insurance import make_coverage
from tests.builders.patients import make_patient
from tests.fhir.fhir_client import FHIR, assert_outcome, audited, read, resources, search, search_all

ICD_10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"


def test_statuses_in_fhir_terms():
    assert INVOICE_STATUS == {"issued": "issued", "partially_paid": "issued", "paid": "balanced", "void": "cancelled"}
    assert [claim_status(s) for s in ("draft", "submitted", "approved", "rejected", "paid", "withdrawn")] == [
        "draft",
        "active",
        "active",
        "active",
        "active",
        "cancelled",
    ]


@pytest.fixture
async def billed(env):
    """An insured patient's visit: its coverage, its invoice (1680.00: 1500.00 + tax 180.00) and a draft claim."""
    case, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    return env, case, bill, claim


async def test_a_coverage_reads_with_its_payer_plan_and_member(billed):
    env, case, *_ = billed
    coverage = case.coverage

    resource = await read(env, f"Coverage/{coverage['id']}")

    assert resource["status"] == "active"
    assert resource["beneficiary"] == {"reference": f"Patient/{case.patient['id']}"}
    assert resource["subscriberId"] == coverage["member_id"]
    assert resource["period"] == {"start": "2030-01-01"}
    [payer] = resource["contained"]
    assert (payer["resourceType"], payer["name"]) == ("Organization", case.payer["name"])
    assert resource["payor"] == [{"reference": "#payer", "display": case.payer["name"]}]
    [plan] = resource["class"]
    assert (plan["type"]["coding"][0]["code"], plan["value"]) == ("plan", case.scheme["code"])


async def test_coverages_are_searched_by_beneficiary(billed):
    env, case, *_ = billed
    second = await make_coverage(env, patient=case.patient, valid_from="2031-01-01")
    await make_coverage(env)  # someone else's

    found = resources(await search(env, "Coverage", beneficiary=f"Patient/{case.patient['id']}"))

    assert [c["id"] for c in found] == [case.coverage["id"], second["id"]]


async def test_a_claim_reads_with_icd_10_cm_diagnoses_cpt_lines_and_its_total(billed):
    env, case, bill, claim = billed

    resource = await read(env, f"Claim/{claim['id']}")

    assert (resource["status"], resource["use"], resource["type"]["coding"][0]["code"]) == (
        "draft",
        "claim",
        "professional",
    )
    assert resource["patient"] == {"reference": f"Patient/{case.patient['id']}"}
    assert resource["insurer"]["display"] == case.payer["name"]
    assert resource["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{case.coverage['id']}"}}
    ]
    assert resource["provider"]["identifier"]["system"] == "http://hl7.org/fhir/sid/us-npi"
    assert resource["careTeam"][0]["provider"] == {"reference": f"Practitioner/{bill['practitioner_id']}"}
    assert [d["diagnosisCodeableConcept"]["coding"][0] for d in resource["diagnosis"]] == [
        {"system": ICD_10_CM, "code": "I10"}
    ]
    [item] = resource["item"]
    assert item["productOrService"]["coding"][0]["system"] == CPT
    assert item["productOrService"]["coding"][0]["code"] == "99213"  # a consultation, as on the 837P
    assert item["diagnosisSequence"] == [1]
    assert resource["total"] == {"value": 1680.0, "currency": bill["currency"]}
    assert Decimal(str(item["net"]["value"])) == Decimal(claim["total_charge"])


async def test_claims_are_searched_by_patient_and_a_submitted_one_is_active(billed):
    env, case, _, claim = billed
    submitted = await env.client.post(f"/api/v1/claims/{claim['id']}/submit", headers=env.admin)
    assert submitted.status_code == 200, submitted.text
    _, other_bill = await insured_invoice(env)
    await submitted_claim(env, other_bill)

    found = resources(await search(env, "Claim", patient=case.patient["id"]))

    assert [(c["id"], c["status"]) for c in found] == [(claim["id"], "active")]
    assert len(resources(await search(env, "Claim"))) == 2


async def test_an_invoice_reads_with_its_lines_totals_and_insurance_split(billed):
    env, case, bill, _ = billed

    resource = await read(env, f"Invoice/{bill['id']}")

    assert (resource["status"], resource["subject"]) == ("issued", {"reference": f"Patient/{case.patient['id']}"})
    assert resource["identifier"][0]["value"] == bill["number"]
    currency = bill["currency"]
    assert (resource["totalNet"], resource["totalGross"]) == (
        {"value": 1500.0, "currency": currency},
        {"value": 1680.0, "currency": currency},
    )
    components = {
        (c["type"], c.get("code", {}).get("coding", [{}])[0].get("code")): c["amount"]["value"]
        for c in resource["totalPriceComponent"]
    }
    assert components[("tax", None)] == 180.0
    assert components[("informational", "insurance-share")] == float(bill["insurance_amount"])
    assert components[("informational", "patient-share")] == float(bill["patient_amount"])
    [line] = resource["lineItem"]
    assert line["chargeItemCodeableConcept"]["coding"][0]["code"] == bill["lines"][0]["code"]
    assert line["priceComponent"] == [
        {"type": "base", "amount": {"value": 1500.0, "currency": currency}, "factor": bill["lines"][0]["quantity"]}
    ]


async def test_invoices_are_searched_by_patient_over_pages(billed):
    env, case, bill, _ = billed
    manual = [await manual_invoice(env, case.patient["id"]) for _ in range(2)]
    await manual_invoice(env, (await make_patient(env))["id"])  # someone else's

    found, pages = await search_all(env, "Invoice", patient=f"Patient/{case.patient['id']}", _count=2)

    assert ([i["id"] for i in found], pages) == ([bill["id"], *(m["id"] for m in manual)], 2)


async def test_a_patient_sees_their_own_coverage_and_invoices_but_no_claims(billed):
    env, case, bill, claim = billed
    other_case, other_bill = await insured_invoice(env)
    headers = await env.user(roles=["patient"], patient_id=case.patient["id"])

    assert (await read(env, f"Invoice/{bill['id']}", headers))["id"] == bill["id"]
    assert (await read(env, f"Coverage/{case.coverage['id']}", headers))["id"] == case.coverage["id"]
    for path, code in (
        (f"Invoice/{other_bill['id']}", "INVOICE_NOT_FOUND"),
        (f"Coverage/{other_case.coverage['id']}", "COVERAGE_NOT_FOUND"),
    ):
        assert_outcome(await env.client.get(f"{FHIR}/{path}", headers=headers), 404, "not-found", code)
    assert [i["id"] for i in resources(await search(env, "Invoice", headers))] == [bill["id"]]
    assert resources(await search(env, "Coverage", headers, beneficiary=other_case.patient["id"])) == []
    for path in (f"Claim/{claim['id']}", "Claim"):  # patients have no claims:read, as in the JSON API
        assert_outcome(await env.client.get(f"{FHIR}/{path}", headers=headers), 403, "forbidden", "FORBIDDEN")


async def test_roles_are_the_json_apis(billed):
    env, _, bill, claim = billed
    doctor = await env.user(roles=["doctor"])
    clerk = await env.user(roles=["billing_clerk"])

    assert_outcome(await env.client.get(f"{FHIR}/Invoice/{bill['id']}", headers=doctor), 403, "forbidden")
    assert_outcome(await env.client.get(f"{FHIR}/Claim", headers=doctor), 403, "forbidden")
    assert (await read(env, f"Claim/{claim['id']}", clerk))["id"] == claim["id"]
    assert (await read(env, f"Invoice/{bill['id']}", clerk))["id"] == bill["id"]


async def test_financial_reads_are_audited(billed):
    env, case, bill, claim = billed
    listed_before = await audited(env, "invoice.list_read", bill["id"])  # the builders list it too

    await read(env, f"Coverage/{case.coverage['id']}")
    await read(env, f"Claim/{claim['id']}")
    await read(env, f"Invoice/{bill['id']}")
    await search(env, "Invoice", patient=case.patient["id"])

    assert await audited(env, "coverage.read", case.coverage["id"]) == 1
    assert await audited(env, "claim.read", claim["id"]) == 1
    assert await audited(env, "invoice.read", bill["id"]) == 1
    assert await audited(env, "invoice.list_read", bill["id"]) == listed_before + 1
