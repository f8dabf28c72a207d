"""Issue 16's premium and commission chain through the API, across insurance, billing and payments: a scheme with
premium rates, an agent, a member enrolled through the agent; the month's premium run issues one premium invoice
(twice run, once billed); the member pays part of it, a credit note settles the rest, the agent's commission accrues
once on what was paid, and a payout pays it once."""

from __future__ import annotations

from decimal import Decimal

from tests.builders.billing import make_credit_note
from tests.builders.insurance import add_rate, make_agent, make_coverage, make_scheme, premium_billings, run_premiums
from tests.builders.patients import make_patient
from tests.builders.payments import make_payment
from tests.harness import every_page


async def test_a_premium_run_bills_once_and_its_payment_pays_the_agent_once(env):
    scheme = await make_scheme(env, name="Gold")
    await add_rate(env, scheme, 18, None, "1200.00")
    agent = await make_agent(env, percent="7.50")
    member = await make_patient(env, date_of_birth="1985-04-12")
    await make_coverage(env, patient=member, scheme=scheme, agent_id=agent["id"])

    assert (await run_premiums(env, "2030-02"))["issued"] == 1
    assert (await run_premiums(env, "2030-02"))["issued"] == 0
    await env.drain()
    [billing] = await premium_billings(env, period="2030-02")
    [invoice] = await every_page(env, "/api/v1/invoices", kind="premium", patient_id=member["id"])
    assert billing["invoice_id"] == invoice["id"]
    assert (invoice["premium_billing_id"], invoice["total"], invoice["insurance_amount"]) == (
        billing["id"],
        "1200.00",
        "0.00",
    )

    await make_payment(env, invoice["id"], "1000.00")
    await make_credit_note(env, invoice["id"], "200.00")  # settles the rest: the invoice is paid
    await env.drain()
    paid = (await env.client.get(f"/api/v1/invoices/{invoice['id']}", headers=env.admin)).json()
    assert (paid["status"], paid["balance_due"]) == ("paid", "0.00")
    [commission] = await every_page(env, "/api/v1/commissions", agent_id=agent["id"])
    assert (commission["status"], Decimal(commission["amount"])) == ("accrued", Decimal("75.00"))  # 7.5 % of 1000

    payout = await env.client.post(
        "/api/v1/commission-payouts", json={"agent_id": agent["id"], "period": "2030-02"}, headers=env.admin
    )
    assert payout.status_code == 201, payout.text
    assert (payout.json()["amount"], payout.json()["commission_ids"]) == ("75.00", [commission["id"]])
    again = await env.client.post(
        "/api/v1/commission-payouts", json={"agent_id": agent["id"], "period": "2030-02"}, headers=env.admin
    )
    assert (again.status_code, again.json()["code"]) == (409, "NOTHING_TO_PAY")
