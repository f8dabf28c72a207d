"""The receipt of a payment: `GET /payments/{id}/receipt` as JSON (the default) or, with `Accept: application/pdf`,
one A4 page. Numbered by the payment's reference; its balances are the invoice's when the payment was made, so a
reprint says the same; read as the payment is (scoped to the patient, audited)."""

from __future__ import annotations

import pytest

from tests.builders.billing import completed_visit_invoice, make_credit_note
from tests.builders.documents import A4, PDF, printed
from tests.builders.patients import make_patient
from tests.builders.payments import PAYMENTS, make_payment, pay, refund
from tests.harness import assert_problem


def url(payment: dict) -> str:
    return f"{PAYMENTS}/{payment['id']}/receipt"


@pytest.fixture
async def invoice(env) -> dict:
    """Insured cardiology visit: total 1680.00, insurance 1512.00, patient 168.00."""
    return await completed_visit_invoice(env)


async def test_the_receipt_as_json(env, invoice):
    payment = await make_payment(env, invoice["id"], "100.00", "upi")

    response = await env.client.get(url(payment), headers=env.admin)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "receipt_number": payment["reference"],
        "payment_id": payment["id"],
        "patient_id": invoice["patient_id"],
        "paid_at": payment["created_at"],
        "method": "upi",
        "amount": "100.00",
        "refunded_amount": "0.00",
        "currency": "INR",
        "invoice_id": invoice["id"],
        "invoice_number": invoice["number"],
        "invoice_total": "1680.00",
        "insurance_amount": "1512.00",
        "patient_amount": "168.00",
        "balance_before": "168.00",
        "balance_after": "68.00",
        "balance_due": "68.00",
    }


async def test_the_pdf_holds_the_payment_the_invoice_and_the_balance(env, invoice):
    payment = await make_payment(env, invoice["id"], "100.00", "card")

    response = await env.client.get(url(payment), headers={**env.admin, **PDF})

    document = printed(response)
    assert (document.pages, document.size) == (1, A4)
    assert response.headers["content-disposition"] == f'inline; filename="receipt-{payment["reference"]}.pdf"'
    assert response.headers["cache-control"] == "no-store"
    expected = [
        "CAREMESH DEMO CLINIC",
        "PAYMENT RECEIPT",
        f"Receipt no. {payment['reference']}",
        f"Invoice no. {invoice['number']}",
        "Method Card",
        f"{payment['reference']} Payment received (Card) 100.00",
        "Amount received (INR) 100.00",
        f"Invoice {invoice['number']} total 1680.00",
        "Insurance share 1512.00",
        "Patient share 168.00",
        "Balance before this payment 168.00",
        "This payment -100.00",
        "Balance after this payment (INR) 68.00",
        invoice["patient_id"],
    ]
    assert document.missing(*expected) == []
    assert "Balance due on" not in document.text  # nothing has changed since


async def test_a_reprint_keeps_the_balance_after_its_payment_and_adds_todays(env, invoice):
    first = await make_payment(env, invoice["id"], "100.00")
    env.clock.advance(minutes=2)
    await make_credit_note(env, invoice["id"], "8.00", "Waiting time")
    env.clock.advance(minutes=2)
    second = await make_payment(env, invoice["id"], "50.00")
    env.clock.advance(minutes=2)
    assert (await refund(env, first["id"], "20.00")).status_code == 201

    receipt = (await env.client.get(url(first), headers=env.admin)).json()
    assert (receipt["balance_before"], receipt["balance_after"], receipt["refunded_amount"]) == (
        "168.00",
        "68.00",
        "20.00",
    )
    assert receipt["balance_due"] == "30.00"  # 168.00 - 8.00 - (150.00 - 20.00)
    later = (await env.client.get(url(second), headers=env.admin)).json()
    assert (later["balance_before"], later["balance_after"]) == ("60.00", "10.00")  # after the credit note

    document = printed(await env.client.get(url(first), headers={**env.admin, **PDF}))
    assert (
        document.missing(
            "Balance after this payment (INR) 68.00",
            "Refunded: Charged twice at the desk -20.00",
            "Refunded from this payment since 20.00",
            "Balance due on",
            " 30.00",
        )
        == []
    )


async def test_a_failed_payment_has_no_receipt(env, invoice):
    declined = await pay(env, invoice["id"], "100.00", "card", card_token="tok_declined")
    assert declined.status_code == 402, declined.text
    payment_id = declined.json()["payment_id"]

    response = await env.client.get(f"{PAYMENTS}/{payment_id}/receipt", headers={**env.admin, **PDF})

    assert_problem(response, 409, "PAYMENT_NOT_COMPLETED")


@pytest.mark.parametrize("accept", ["text/csv", "application/xml", "application/pdf;q=0, application/json;q=0"])
async def test_what_neither_form_can_serve_is_406(env, invoice, accept):
    payment = await make_payment(env, invoice["id"])
    response = await env.client.get(url(payment), headers={**env.admin, "Accept": accept})
    assert_problem(response, 406, "NOT_ACCEPTABLE")


async def test_a_patient_gets_their_own_receipts_only(env, invoice):
    payment = await make_payment(env, invoice["id"])
    own = await env.user(["patient"], patient_id=invoice["patient_id"])
    assert printed(await env.client.get(url(payment), headers={**own, **PDF})).has(payment["reference"])

    other = await make_patient(env)
    stranger = await env.user(["patient"], patient_id=other["id"])
    assert_problem(await env.client.get(url(payment), headers={**stranger, **PDF}), 404, "PAYMENT_NOT_FOUND")
    assert_problem(await env.client.get(url(payment), headers=stranger), 404, "PAYMENT_NOT_FOUND")

    pharmacist = await env.user(["pharmacist"])
    assert_problem(await env.client.get(url(payment), headers=pharmacist), 403, "FORBIDDEN")


async def test_printing_a_receipt_is_an_audited_read_of_the_payment(env, invoice):
    payment = await make_payment(env, invoice["id"])

    async def reads() -> int:
        return await env.count("audit_events", "action = 'payment.read' AND entity_id = :id", id=payment["id"])

    before = await reads()
    printed(await env.client.get(url(payment), headers={**env.admin, **PDF}))
    assert await reads() == before + 1


async def test_an_unknown_payment_has_no_receipt(env):
    missing = f"{PAYMENTS}/00000000-0000-4000-8000-000000000000/receipt"
    assert_problem(await env.client.get(missing, headers={**env.admin, **PDF}), 404, "PAYMENT_NOT_FOUND")
