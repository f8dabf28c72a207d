"""A manual invoice is claimed under the insurance category billing split it under (free-text lines: `procedure`);
a premium invoice, which has no insurance share, is not claimable."""

from __future__ import annotations

from tests.builders.billing import free_line, manual_invoice
from tests.builders.insurance import insured_patient
from tests.harness import assert_problem

CLAIMS = "/api/v1/claims"


async def test_a_manual_invoice_with_an_insurance_share_is_claimed(env):
    patient, _, _ = await insured_patient(env, category="procedure", coverage_percent="80.00")
    invoice = await manual_invoice(env, patient["id"], [free_line("500.00")])
    assert (invoice["kind"], invoice["insurance_category"]) == ("manual", "procedure")
    assert invoice["insurance_amount"] != "0.00"
    response = await env.client.post(CLAIMS, json={"invoice_id": invoice["id"]}, headers=env.admin)
    assert response.status_code == 201, response.text
    claim = response.json()
    assert (claim["status"], claim["invoice_id"]) == ("draft", invoice["id"])


async def test_a_manual_invoice_without_an_insurance_share_is_not_claimable(env):
    patient, _, _ = await insured_patient(env, category="lab", coverage_percent="80.00")
    invoice = await manual_invoice(env, patient["id"], [free_line("500.00")])
    assert invoice["insurance_amount"] == "0.00"
    response = await env.client.post(CLAIMS, json={"invoice_id": invoice["id"]}, headers=env.admin)
    assert_problem(response, 409, "NOT_CLAIMABLE")
