"""Who pays and who reads: staff roles, patients confined to their own invoices and payments, audited reads."""

from __future__ import annotations

import pytest

from tests.builders.payments import PAYMENTS, assert_problem, invoice, make_payment, pay, snapshot, unpaid_invoice

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


@pytest.mark.parametrize("role", ["receptionist", "billing_clerk", "admin"])
async def test_front_desk_and_billing_take_payments(env, bill, role):
    headers = await env.user([role])
    response = await pay(env, bill["id"], "10.00", headers=headers)
    assert response.status_code == 201, response.text
    assert (await env.client.get(f"{PAYMENTS}/{response.json()['id']}", headers=headers)).status_code == 200


@pytest.mark.parametrize("role", ["doctor", "nurse", "pharmacist", "lab_technician", "claims_officer"])
async def test_clinical_staff_take_no_payments(env, bill, role):
    headers = await env.user([role])
    before = await snapshot(env, bill["id"])
    assert_problem(await pay(env, bill["id"], "10.00", headers=headers), 403, "FORBIDDEN")
    assert await snapshot(env, bill["id"]) == before


async def test_doctors_do_not_read_payments(env, bill):
    paid = await make_payment(env, bill["id"])
    headers = await env.user(["doctor"])
    assert_problem(await env.client.get(f"{PAYMENTS}/{paid['id']}", headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(PAYMENTS, headers=headers), 403, "FORBIDDEN")


async def test_a_patient_pays_their_own_invoice(env, bill):
    headers = await env.user(["patient"], patient_id=bill["patient_id"])
    response = await pay(env, bill["id"], "168.00", "card", headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["patient_id"] == bill["patient_id"]
    assert (await invoice(env, bill["id"]))["amount_paid"] == "168.00"


async def test_a_patient_cannot_pay_anyone_elses_invoice(env, bill):
    mine = await unpaid_invoice(env)
    headers = await env.user(["patient"], patient_id=mine["patient_id"])
    before = await snapshot(env, bill["id"])
    assert_problem(await pay(env, bill["id"], "10.00", "card", headers=headers), 404, "INVOICE_NOT_FOUND")
    assert await snapshot(env, bill["id"]) == before


async def test_a_patient_sees_only_their_own_payments(env, bill):
    mine = await unpaid_invoice(env)
    headers = await env.user(["patient"], patient_id=mine["patient_id"])
    my_payment = await make_payment(env, mine["id"], "10.00")
    their_payment = await make_payment(env, bill["id"], "10.00")

    assert (await env.client.get(f"{PAYMENTS}/{my_payment['id']}", headers=headers)).json() == my_payment
    response = await env.client.get(f"{PAYMENTS}/{their_payment['id']}", headers=headers)
    assert_problem(response, 404, "PAYMENT_NOT_FOUND")

    listed = (await env.client.get(PAYMENTS, headers=headers)).json()["items"]
    assert [p["id"] for p in listed] == [my_payment["id"]]
    for spying in ({"invoice_id": bill["id"]}, {"patient_id": bill["patient_id"]}):
        assert (await env.client.get(PAYMENTS, params=spying, headers=headers)).json()["items"] == []


async def test_payments_are_listed_by_invoice_patient_and_status_in_pages(env, bill):
    other = await unpaid_invoice(env)
    made = [await make_payment(env, bill["id"], "10.00") for _ in range(3)]
    failed = (await pay(env, bill["id"], "10.00", "card", card_token="tok_declined")).json()
    await make_payment(env, other["id"], "10.00")

    def ids(response) -> list[str]:
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    of_bill = ids(await env.client.get(PAYMENTS, params={"invoice_id": bill["id"]}, headers=env.admin))
    assert sorted(of_bill) == sorted([p["id"] for p in made] + [failed["payment_id"]])
    of_patient = ids(await env.client.get(PAYMENTS, params={"patient_id": bill["patient_id"]}, headers=env.admin))
    assert sorted(of_patient) == sorted(of_bill)
    params = {"invoice_id": bill["id"], "status": "failed"}
    assert ids(await env.client.get(PAYMENTS, params=params, headers=env.admin)) == [failed["payment_id"]]
    assert_problem(
        await env.client.get(PAYMENTS, params={"status": "pending"}, headers=env.admin), 422, "VALIDATION_ERROR"
    )

    first = await env.client.get(PAYMENTS, params={"invoice_id": bill["id"], "limit": 3}, headers=env.admin)
    cursor = first.json()["next_cursor"]
    assert cursor
    rest = await env.client.get(PAYMENTS, params={"invoice_id": bill["id"], "cursor": cursor}, headers=env.admin)
    assert ids(first) + ids(rest) == of_bill
    assert rest.json()["next_cursor"] is None


async def test_reads_are_audited(env, bill):
    paid = await make_payment(env, bill["id"], "10.00")
    await env.client.get(f"{PAYMENTS}/{paid['id']}", headers=env.admin)
    await env.client.get(PAYMENTS, params={"invoice_id": bill["id"]}, headers=env.admin)

    assert await env.count("audit_events", "action = 'payment.read' AND entity_id = :id", id=paid["id"]) == 1
    assert await env.count("audit_events", "action = 'payment.list'") == 1
    assert await env.count("audit_events", "action = 'payment.list_read' AND entity_id = :id", id=paid["id"]) == 1


async def test_an_unknown_payment_is_404(env):
    assert_problem(await env.client.get(f"{PAYMENTS}/{MISSING}", headers=env.admin), 404, "PAYMENT_NOT_FOUND")
