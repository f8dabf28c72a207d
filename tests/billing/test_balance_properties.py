"""Property: whatever sequence of payments, refunds and credit notes clients send, an invoice's balance is exactly
its patient share less what was credited and what was paid (net of refunds), never below zero, its status agrees,
and every refused step changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders.billing import completed_visit_invoice, post_credit_note

PAYMENTS = "/api/v1/payments"
CENTS = st.integers(min_value=1, max_value=200_000).map(lambda c: Decimal(c) / 100)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), CENTS),
        st.tuples(st.just("refund"), CENTS, st.integers(min_value=0, max_value=7)),
        st.tuples(st.just("credit"), CENTS),
    ),
    min_size=1,
    max_size=8,
)


def expected_status(paid: Decimal, credited: Decimal, owed: Decimal) -> str:
    if paid + credited == owed:
        return "paid"
    return "partially_paid" if paid > 0 else "issued"


def refused(response, code: str) -> bool:
    assert (response.status_code, response.json()["code"]) == (409, code), response.text
    return True


async def play(make_env, operations) -> None:
    async with make_env() as env:
        invoice = await completed_visit_invoice(env, insured=False)
        owed = Decimal(invoice["patient_amount"])
        paid = credited = Decimal("0.00")
        credit_notes = 0
        payments: list[tuple[str, Decimal]] = []  # (id, unrefunded)
        before = (await env.client.get(f"/api/v1/invoices/{invoice['id']}", headers=env.admin)).json()
        for operation in operations:
            headers = {**env.admin, "Idempotency-Key": uuid.uuid4().hex}
            open_ = owed - credited - paid
            was_refused = False
            if operation[0] == "pay":
                amount = operation[1]
                body = {"invoice_id": invoice["id"], "amount": f"{amount:.2f}", "method": "cash"}
                response = await env.client.post(PAYMENTS, json=body, headers=headers)
                if open_ == 0:
                    was_refused = refused(response, "INVOICE_NOT_PAYABLE")
                elif amount > open_:
                    was_refused = refused(response, "AMOUNT_EXCEEDS_BALANCE")
                else:
                    assert response.status_code == 201, response.text
                    paid += amount
                    payments.append((response.json()["id"], amount))
            elif operation[0] == "credit":
                amount = operation[1]
                response = await post_credit_note(env, invoice["id"], f"{amount:.2f}", headers=headers)
                if amount > open_:
                    was_refused = refused(response, "CREDIT_EXCEEDS_INVOICE")
                else:
                    assert response.status_code == 201, response.text
                    credited += amount
                    credit_notes += 1
            elif payments:
                _, amount, pick = operation
                index = pick % len(payments)
                payment_id, unrefunded = payments[index]
                body = {"amount": f"{amount:.2f}", "reason": "property test"}
                response = await env.client.post(f"{PAYMENTS}/{payment_id}/refunds", json=body, headers=headers)
                if amount > unrefunded:
                    was_refused = refused(response, "REFUND_EXCEEDS_PAYMENT")
                else:
                    assert response.status_code == 201, response.text
                    paid -= amount
                    payments[index] = (payment_id, unrefunded - amount)
            read = (await env.client.get(f"/api/v1/invoices/{invoice['id']}", headers=env.admin)).json()
            if was_refused:
                assert read == before  # nothing changed, not even the version
            assert Decimal(read["amount_paid"]) == paid
            assert Decimal(read["credited_amount"]) == credited
            assert Decimal(read["balance_due"]) == owed - credited - paid >= 0
            assert read["status"] == expected_status(paid, credited, owed)
            before = read
        assert await env.count("credit_notes") == credit_notes  # a refused credit note left no document


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_balance_follows_payments_refunds_and_credit_notes_and_never_goes_below_zero(make_env, operations):
    asyncio.run(play(make_env, operations))
