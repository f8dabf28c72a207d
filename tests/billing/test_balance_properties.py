"""Property: whatever sequence of payments and refunds clients send, an invoice's balance is never below
zero, its amount paid is exactly what was paid less what was refunded, and its status agrees."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders.billing import completed_visit_invoice

PAYMENTS = "/api/v1/payments"
CENTS = st.integers(min_value=1, max_value=200_000).map(lambda c: Decimal(c) / 100)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), CENTS),
        st.tuples(st.just("refund"), CENTS, st.integers(min_value=0, max_value=7)),
    ),
    min_size=1,
    max_size=8,
)


def expected_status(paid: Decimal, owed: Decimal) -> str:
    if paid == owed:
        return "paid"
    return "partially_paid" if paid > 0 else "issued"


async def play(make_env, operations) -> None:
    async with make_env() as env:
        invoice = await completed_visit_invoice(env, insured=False)
        owed = Decimal(invoice["patient_amount"])
        paid = Decimal("0.00")
        payments: list[tuple[str, Decimal]] = []  # (id, unrefunded)
        for operation in operations:
            headers = {**env.admin, "Idempotency-Key": uuid.uuid4().hex}
            if operation[0] == "pay":
                amount = operation[1]
                body = {"invoice_id": invoice["id"], "amount": f"{amount:.2f}", "method": "cash"}
                response = await env.client.post(PAYMENTS, json=body, headers=headers)
                if paid == owed:
                    assert (response.status_code, response.json()["code"]) == (409, "INVOICE_NOT_PAYABLE")
                elif amount > owed - paid:
                    assert (response.status_code, response.json()["code"]) == (409, "AMOUNT_EXCEEDS_BALANCE")
                else:
                    assert response.status_code == 201, response.text
                    paid += amount
                    payments.append((response.json()["id"], amount))
            elif payments:
                _, amount, pick = operation
                index = pick % len(payments)
                payment_id, unrefunded = payments[index]
                body = {"amount": f"{amount:.2f}", "reason": "property test"}
                response = await env.client.post(f"{PAYMENTS}/{payment_id}/refunds", json=body, headers=headers)
                if amount > unrefunded:
                    assert (response.status_code, response.json()["code"]) == (409, "REFUND_EXCEEDS_PAYMENT")
                else:
                    assert response.status_code == 201, response.text
                    paid -= amount
                    payments[index] = (payment_id, unrefunded - amount)
            read = (await env.client.get(f"/api/v1/invoices/{invoice['id']}", headers=env.admin)).json()
            assert Decimal(read["amount_paid"]) == paid
            assert Decimal(read["balance_due"]) == owed - paid >= 0
            assert read["status"] == expected_status(paid, owed)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_the_balance_follows_payments_and_refunds_and_never_goes_below_zero(make_env, operations):
    asyncio.run(play(make_env, operations))
