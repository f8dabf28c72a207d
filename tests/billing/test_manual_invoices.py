"""Manual invoices (`POST /invoices {patient_id, lines}`): priced from tariffs or by hand, taxed and split with
insurance under one category, no loyalty discount; refusals change nothing; retries are safe."""

from __future__ import annotations

import pytest

from tests.billing.helpers import billing_snapshot
from tests.builders.billing import (
    INSURANCE,
    INVOICES,
    completed_visit_invoice,
    free_line,
    make_tariff,
    manual_invoice,
    post_manual_invoice,
)
from tests.builders.patients import make_patient
from tests.builders.payments import new_key
from tests.harness import assert_problem, every_page, outbox_payloads

MISSING = "00000000-0000-4000-8000-000000000000"


def figures(invoice: dict) -> tuple:
    keys = ("subtotal", "discount_percent", "discount_amount", "tax_rate", "tax_amount", "total")
    return tuple(invoice[k] for k in (*keys, "insurance_amount", "patient_amount", "balance_due"))


async def test_free_text_lines_are_taxed_and_split_as_a_procedure(env):
    patient = await make_patient(env, insurance=INSURANCE)
    response = await post_manual_invoice(
        env, patient["id"], [free_line("250.00", 2), free_line("0.50", 1, "Copy of the record")]
    )
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert response.headers["Location"] == f"/api/v1/invoices/{invoice['id']}"
    assert (invoice["kind"], invoice["insurance_category"], invoice["status"]) == ("manual", "procedure", "issued")
    assert (invoice["appointment_id"], invoice["order_id"], invoice["practitioner_id"]) == (None, None, None)
    assert invoice["number"].startswith("INV-2030-")
    assert [
        (line["code"], line["description"], line["quantity"], line["unit_price"], line["amount"])
        for line in invoice["lines"]
    ] == [
        ("MANUAL", "Medical certificate", 2, "250.00", "500.00"),
        ("MANUAL", "Copy of the record", 1, "0.50", "0.50"),
    ]
    # 500.50, no discount, 12 % tax 60.06, total 560.56; 90 % insured: 504.50, patient 56.06.
    assert figures(invoice) == ("500.50", 0, "0.00", "0.12", "60.06", "560.56", "504.50", "56.06", "56.06")
    [issued] = await outbox_payloads(env, "invoice.issued")
    assert (issued["invoice_id"], issued["kind"], issued["premium_billing_id"]) == (invoice["id"], "manual", None)


async def test_tariff_lines_take_the_tariffs_price_tax_rate_and_category(env):
    patient = await make_patient(env)  # uninsured: the patient pays all
    lab = await make_tariff(env, pricing={"type": "flat", "amount": "350.00"}, tax_rate="0.05")
    invoice = await manual_invoice(
        env, patient["id"], [{"tariff_code": lab["code"].lower(), "quantity": 2}, free_line("100.00")]
    )
    assert [(line["code"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        (lab["code"], 2, "700.00"),
        ("MANUAL", 1, "100.00"),
    ]
    # 800.00 at the lab tariff's 5 %: 40.00; the free-text line follows the invoice's category and rate.
    assert figures(invoice) == ("800.00", 0, "0.00", "0.05", "40.00", "840.00", "0.00", "840.00", "840.00")
    assert invoice["insurance_category"] == "lab"

    hourly = await manual_invoice(env, patient["id"], [{"tariff_code": "CONSULT-GENERAL", "quantity": 3}])
    assert (hourly["subtotal"], hourly["insurance_category"]) == ("600.00", "consultation")


async def test_no_loyalty_discount_even_after_visits(env):
    visit = await completed_visit_invoice(env)
    await completed_visit_invoice(env, patient={"id": visit["patient_id"]})
    invoice = await manual_invoice(env, visit["patient_id"])
    assert (invoice["discount_percent"], invoice["discount_amount"]) == (0, "0.00")


async def test_nothing_to_pay_is_issued_paid(env):
    patient = await make_patient(env)
    invoice = await manual_invoice(env, patient["id"], [free_line("0.00")])
    assert (invoice["total"], invoice["status"], invoice["balance_due"]) == ("0.00", "paid", "0.00")
    [paid] = await outbox_payloads(env, "invoice.paid")
    assert paid["kind"] == "manual"


@pytest.mark.parametrize(
    ("lines", "code", "loc"),
    [
        ([{"tariff_code": "NO-SUCH-TARIFF", "quantity": 1}], "UNKNOWN_TARIFF", ["body", "lines", "0", "tariff_code"]),
        (
            [free_line(), {"tariff_code": "CONSULT-CARDIOLOGY", "quantity": 1}],
            "TARIFF_NEEDS_PRACTITIONER",
            ["body", "lines", "1", "tariff_code"],
        ),
        (
            [{"tariff_code": "CONSULT-GENERAL", "quantity": 1}, {"tariff_code": "ORDER-LAB", "quantity": 1}],
            "MIXED_CHARGES",
            ["body", "lines"],
        ),
    ],
)
async def test_lines_no_tariff_can_price_are_refused_and_change_nothing(env, lines, code, loc):
    patient = await make_patient(env)
    before = await billing_snapshot(env)
    body = assert_problem(await post_manual_invoice(env, patient["id"], lines), 422, code)
    assert body["errors"][0]["loc"] == loc
    assert await billing_snapshot(env) == before


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [free_line()] * 51,
        [free_line(quantity=0)],
        [free_line(unit_price="-1.00")],
        [free_line(unit_price="1.005")],
        [{"description": "", "quantity": 1, "unit_price": "1.00"}],
        [{"tariff_code": "CONSULT-GENERAL", "quantity": 1, "unit_price": "1.00"}],
        [{"tariff_code": "not a code!", "quantity": 1}],
    ],
)
async def test_malformed_lines_are_refused_and_change_nothing(env, lines):
    patient = await make_patient(env)
    before = await billing_snapshot(env)
    assert_problem(await post_manual_invoice(env, patient["id"], lines), 422, "VALIDATION_ERROR")
    assert await billing_snapshot(env) == before


async def test_fifty_lines_are_accepted(env):
    patient = await make_patient(env)
    invoice = await manual_invoice(env, patient["id"], [free_line("1.00")] * 50)
    assert (len(invoice["lines"]), invoice["subtotal"]) == (50, "50.00")


async def test_an_unknown_patient_is_404_and_nothing_is_issued(env):
    before = await billing_snapshot(env)
    assert_problem(await post_manual_invoice(env, MISSING, [free_line()]), 404, "PATIENT_NOT_FOUND")
    assert await billing_snapshot(env) == before


async def test_only_billing_staff_issue_manual_invoices(env):
    patient = await make_patient(env)
    clerk = await env.user(["billing_clerk"])
    assert (await post_manual_invoice(env, patient["id"], [free_line()], headers=clerk)).status_code == 201
    before = await billing_snapshot(env)
    for role in ("receptionist", "claims_officer", "doctor"):
        headers = await env.user([role])
        assert_problem(await post_manual_invoice(env, patient["id"], [free_line()], headers=headers), 403, "FORBIDDEN")
    own = await env.user(["patient"], patient_id=patient["id"])
    assert_problem(await post_manual_invoice(env, patient["id"], [free_line()], headers=own), 403, "FORBIDDEN")
    assert await billing_snapshot(env) == before


async def test_a_retried_manual_invoice_is_issued_once(env):
    patient = await make_patient(env)
    body = {"patient_id": patient["id"], "lines": [free_line()]}
    headers = {**env.admin, "Idempotency-Key": new_key()}
    first = await env.client.post(INVOICES, json=body, headers=headers)
    again = await env.client.post(INVOICES, json=body, headers=headers)
    assert (first.status_code, again.status_code, again.headers.get("Idempotent-Replayed")) == (201, 201, "true")
    assert again.json() == first.json()
    other = {**body, "lines": [free_line("1.00")]}
    assert_problem(await env.client.post(INVOICES, json=other, headers=headers), 422, "IDEMPOTENCY_KEY_REUSED")
    assert await env.count("invoices") == 1


async def test_invoices_are_listed_by_kind(env):
    visit = await completed_visit_invoice(env)
    manual = await manual_invoice(env, visit["patient_id"])
    assert [i["id"] for i in await every_page(env, INVOICES, kind="manual")] == [manual["id"]]
    assert [i["id"] for i in await every_page(env, INVOICES, kind="consultation")] == [visit["id"]]
    assert_problem(await env.client.get(INVOICES, params={"kind": "other"}, headers=env.admin), 422, "VALIDATION_ERROR")
