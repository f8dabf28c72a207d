"""Credit notes: their own gapless-numbered documents that lower an invoice's patient share, never more than is
open; a paid invoice is refunded first. Concurrent credit notes of one invoice never over-credit it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.billing.helpers import billing_snapshot
from tests.builders.billing import (
    CREDIT_NOTES,
    INVOICES,
    completed_visit_invoice,
    make_credit_note,
    post_credit_note,
    read_invoice,
)
from tests.builders.payments import make_payment, new_key
from tests.harness import assert_problem, every_page, outbox_payloads

AR = "/api/v1/accounts-receivable"


@pytest.fixture
async def invoice(env) -> dict:
    """Insured cardiology visit: total 1680.00, insurance 1512.00, patient 168.00."""
    return await completed_visit_invoice(env)


async def credit_snapshot(env) -> dict:
    return {**await billing_snapshot(env), "credit_notes": await env.count("credit_notes")}


async def test_a_credit_note_is_its_own_numbered_document_and_lowers_the_balance(env, invoice):
    response = await post_credit_note(env, invoice["id"], "50.00", "Overcharged dressing")
    assert response.status_code == 201, response.text
    note = response.json()
    assert response.headers["Location"] == f"/api/v1/credit-notes/{note['id']}"
    assert note["number"] == "CN-2030-000001"
    assert (note["invoice_id"], note["patient_id"], note["amount"], note["currency"], note["reason"]) == (
        invoice["id"],
        invoice["patient_id"],
        "50.00",
        "INR",
        "Overcharged dressing",
    )
    after = await read_invoice(env, invoice["id"])
    assert (after["credited_amount"], after["balance_due"], after["status"]) == ("50.00", "118.00", "issued")
    # Never an edit of the invoice's lines or figures.
    for field in ("lines", "subtotal", "tax_amount", "total", "insurance_amount", "patient_amount", "amount_paid"):
        assert after[field] == invoice[field], field

    second = await make_credit_note(env, invoice["id"], "18.00")
    assert second["number"] == "CN-2030-000002"
    assert (await read_invoice(env, invoice["id"]))["balance_due"] == "100.00"

    assert await outbox_payloads(env, "credit_note.issued") == [
        {
            "credit_note_id": note["id"],
            "number": "CN-2030-000001",
            "invoice_id": invoice["id"],
            "invoice_number": invoice["number"],
            "patient_id": invoice["patient_id"],
            "amount": "50.00",
            "currency": "INR",
            "reason": "Overcharged dressing",
            "balance_due": "118.00",
            "kind": "consultation",
            "issued_at": note["created_at"],
        },
        {
            "credit_note_id": second["id"],
            "number": "CN-2030-000002",
            "invoice_id": invoice["id"],
            "invoice_number": invoice["number"],
            "patient_id": invoice["patient_id"],
            "amount": "18.00",
            "currency": "INR",
            "reason": "Billing correction",
            "balance_due": "100.00",
            "kind": "consultation",
            "issued_at": second["created_at"],
        },
    ]


async def test_credit_notes_are_listed_by_invoice_and_read_one_by_one(env, invoice):
    other = await completed_visit_invoice(env)
    first = await make_credit_note(env, invoice["id"], "10.00")
    await make_credit_note(env, other["id"], "20.00")
    third = await make_credit_note(env, invoice["id"], "30.00")
    listed = await every_page(env, CREDIT_NOTES, invoice_id=invoice["id"], limit=1)
    assert [n["id"] for n in listed] == [first["id"], third["id"]]
    assert len(await every_page(env, CREDIT_NOTES)) == 3
    got = await env.client.get(f"{CREDIT_NOTES}/{third['id']}", headers=env.admin)
    assert (got.status_code, got.json()) == (200, third)
    assert_problem(
        await env.client.get(f"{CREDIT_NOTES}/{invoice['id']}", headers=env.admin), 404, "CREDIT_NOTE_NOT_FOUND"
    )


async def test_crediting_the_whole_open_balance_marks_the_invoice_paid(env, invoice):
    await make_payment(env, invoice["id"], "100.00")
    await make_credit_note(env, invoice["id"], "68.00")
    after = await read_invoice(env, invoice["id"])
    assert (after["amount_paid"], after["credited_amount"], after["balance_due"], after["status"]) == (
        "100.00",
        "68.00",
        "0.00",
        "paid",
    )
    [paid] = await outbox_payloads(env, "invoice.paid")
    assert (paid["amount_paid"], paid["credited_amount"], paid["kind"]) == ("100.00", "68.00", "consultation")


async def test_a_credit_note_without_payments_can_settle_the_invoice_alone(env, invoice):
    await make_credit_note(env, invoice["id"], "168.00")
    after = await read_invoice(env, invoice["id"])
    assert (after["amount_paid"], after["balance_due"], after["status"]) == ("0.00", "0.00", "paid")
    assert len(await outbox_payloads(env, "invoice.paid")) == 1


async def test_more_than_is_open_is_refused_and_changes_nothing(env, invoice):
    await make_payment(env, invoice["id"], "100.00")
    before = await credit_snapshot(env)
    refused = await post_credit_note(env, invoice["id"], "68.01")
    body = assert_problem(refused, 409, "CREDIT_EXCEEDS_INVOICE")
    assert body["creditable"] == "68.00"
    assert "refund it first" in body["detail"]
    assert await credit_snapshot(env) == before
    assert (await read_invoice(env, invoice["id"]))["credited_amount"] == "0.00"


async def test_a_paid_invoice_is_refunded_first_which_reopens_its_balance_to_credit(env, invoice):
    payment = await make_payment(env, invoice["id"], "168.00")
    assert_problem(await post_credit_note(env, invoice["id"], "20.00"), 409, "CREDIT_EXCEEDS_INVOICE")
    refund = await env.client.post(
        f"/api/v1/payments/{payment['id']}/refunds",
        json={"amount": "20.00", "reason": "credited"},
        headers={**env.admin, "Idempotency-Key": new_key()},
    )
    assert refund.status_code == 201, refund.text
    assert (await read_invoice(env, invoice["id"]))["status"] == "partially_paid"
    await make_credit_note(env, invoice["id"], "20.00")
    after = await read_invoice(env, invoice["id"])
    assert (after["amount_paid"], after["credited_amount"], after["balance_due"], after["status"]) == (
        "148.00",
        "20.00",
        "0.00",
        "paid",
    )


async def test_a_void_invoice_takes_no_credit_and_a_credited_one_is_not_voided(env, invoice):
    other = await completed_visit_invoice(env)
    voided = await env.client.post(f"{INVOICES}/{other['id']}/void", headers=env.admin)
    assert voided.status_code == 200, voided.text
    before = await credit_snapshot(env)
    assert_problem(await post_credit_note(env, other["id"], "1.00"), 409, "INVOICE_NOT_PAYABLE")
    assert await credit_snapshot(env) == before

    await make_credit_note(env, invoice["id"], "1.00")
    assert_problem(
        await env.client.post(f"{INVOICES}/{invoice['id']}/void", headers=env.admin), 409, "INVOICE_HAS_CREDIT_NOTES"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0.00", "reason": "x"},
        {"amount": "-1.00", "reason": "x"},
        {"amount": "1.001", "reason": "x"},
        {"amount": "1.00", "reason": ""},
        {"amount": "1.00"},
        {"amount": "1.00", "reason": "x", "extra": 1},
    ],
)
async def test_a_malformed_credit_note_is_refused_and_changes_nothing(env, invoice, body):
    before = await credit_snapshot(env)
    response = await env.client.post(f"{INVOICES}/{invoice['id']}/credit-notes", json=body, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await credit_snapshot(env) == before


async def test_an_unknown_invoice_is_404(env):
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(await post_credit_note(env, missing, "1.00"), 404, "INVOICE_NOT_FOUND")


async def test_only_billing_staff_issue_credit_notes_and_a_patient_reads_only_their_own(env, invoice):
    other = await completed_visit_invoice(env)
    mine = await make_credit_note(env, invoice["id"], "10.00")
    theirs = await make_credit_note(env, other["id"], "10.00")
    clerk = await env.user(["billing_clerk"])
    receptionist = await env.user(["receptionist"])
    patient = await env.user(["patient"], patient_id=invoice["patient_id"])
    assert (await post_credit_note(env, invoice["id"], "1.00", headers=clerk)).status_code == 201
    before = await credit_snapshot(env)
    assert_problem(await post_credit_note(env, invoice["id"], "1.00", headers=receptionist), 403, "FORBIDDEN")
    assert_problem(await post_credit_note(env, invoice["id"], "1.00", headers=patient), 403, "FORBIDDEN")
    assert await credit_snapshot(env) == before

    own = await env.client.get(f"{CREDIT_NOTES}/{mine['id']}", headers=patient)
    assert (own.status_code, own.json()["id"]) == (200, mine["id"])
    assert_problem(
        await env.client.get(f"{CREDIT_NOTES}/{theirs['id']}", headers=patient), 404, "CREDIT_NOTE_NOT_FOUND"
    )
    listed = await every_page(env, CREDIT_NOTES, headers=patient)
    assert {n["invoice_id"] for n in listed} == {invoice["id"]}
    assert await every_page(env, CREDIT_NOTES, headers=patient, invoice_id=other["id"]) == []


async def test_a_credit_note_request_replayed_with_its_key_credits_once(env, invoice):
    key = new_key()
    first = await post_credit_note(env, invoice["id"], "25.00", key=key)
    again = await post_credit_note(env, invoice["id"], "25.00", key=key)
    assert (first.status_code, again.status_code, again.headers.get("Idempotent-Replayed")) == (201, 201, "true")
    assert again.json() == first.json()
    assert assert_problem(await post_credit_note(env, invoice["id"], "26.00", key=key), 422, "IDEMPOTENCY_KEY_REUSED")
    assert (await env.count("credit_notes"), (await read_invoice(env, invoice["id"]))["credited_amount"]) == (
        1,
        "25.00",
    )


async def test_accounts_receivable_counts_the_credit(env, invoice):
    async def patient_total() -> Decimal:
        report = (await env.client.get(AR, headers=env.admin)).json()
        [patient] = [p for p in report["by_payer"] if p["payer"] == "patient"]
        return Decimal(patient["total"])

    assert await patient_total() == Decimal("168.00")
    await make_credit_note(env, invoice["id"], "60.00")
    assert await patient_total() == Decimal("108.00")


async def test_concurrent_credit_notes_never_over_credit_and_keep_numbers_gapless(env):
    invoice = await completed_visit_invoice(env, insured=False)  # the patient owes 1680.00
    await env.warm_pool()
    responses = await asyncio.gather(*(post_credit_note(env, invoice["id"], "300.00") for _ in range(8)))
    created = [r.json() for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(created) == 5  # 5 × 300.00 = 1500.00 of 1680.00; a sixth would exceed it
    for response in refused:
        assert_problem(response, 409, "CREDIT_EXCEEDS_INVOICE")
    assert sorted(n["number"] for n in created) == [f"CN-2030-{n:06d}" for n in range(1, 6)]
    after = await read_invoice(env, invoice["id"])
    assert (after["credited_amount"], after["balance_due"], after["status"]) == ("1500.00", "180.00", "issued")


async def test_credit_notes_and_payments_at_once_never_exceed_the_patient_share(env):
    invoice = await completed_visit_invoice(env, insured=False)  # 1680.00
    await env.warm_pool()
    work = [post_credit_note(env, invoice["id"], "400.00") for _ in range(3)]
    work += [
        env.client.post(
            "/api/v1/payments",
            json={"invoice_id": invoice["id"], "amount": "400.00", "method": "cash"},
            headers={**env.admin, "Idempotency-Key": new_key()},
        )
        for _ in range(3)
    ]
    responses = await asyncio.gather(*work)
    assert sum(r.status_code == 201 for r in responses) == 4  # 4 × 400.00 = 1600.00 ≤ 1680.00 < 5 × 400.00
    after = await read_invoice(env, invoice["id"])
    settled = Decimal(after["amount_paid"]) + Decimal(after["credited_amount"])
    assert settled == Decimal("1600.00")
    assert Decimal(after["balance_due"]) == Decimal("80.00")
