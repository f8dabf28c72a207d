"""GET /refunds and /refunds/{id}: refunds listed by payment or invoice, a patient's own only, every read audited."""

from __future__ import annotations

import pytest

from tests.builders.payments import REFUNDS, assert_problem, make_payment, refund, unpaid_invoice

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


async def refunded(env, payment_id: str, amount: str = "10.00") -> dict:
    response = await refund(env, payment_id, amount)
    assert response.status_code == 201, response.text
    return response.json()


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["items"]]


async def test_a_refund_is_read_as_it_was_answered(env, bill):
    paid = await make_payment(env, bill["id"], "100.00")
    made = await refunded(env, paid["id"])

    response = await env.client.get(f"{REFUNDS}/{made['id']}", headers=env.admin)

    assert response.status_code == 200, response.text
    assert response.json() == made
    assert await env.count("audit_events", "action = 'refund.read' AND entity_id = :id", id=made["id"]) == 1


async def test_refunds_are_listed_by_payment_and_by_invoice(env, bill):
    other = await unpaid_invoice(env)
    first, second = await make_payment(env, bill["id"], "100.00"), await make_payment(env, bill["id"], "50.00")
    elsewhere = await make_payment(env, other["id"], "100.00")
    of_first = [await refunded(env, first["id"], "10.00"), await refunded(env, first["id"], "20.00")]
    of_second = await refunded(env, second["id"], "5.00")
    not_this_invoice = await refunded(env, elsewhere["id"])

    by_payment = ids(await env.client.get(REFUNDS, params={"payment_id": first["id"]}, headers=env.admin))
    assert sorted(by_payment) == sorted(r["id"] for r in of_first)
    by_invoice = ids(await env.client.get(REFUNDS, params={"invoice_id": bill["id"]}, headers=env.admin))
    assert sorted(by_invoice) == sorted(r["id"] for r in [*of_first, of_second])
    everything = ids(await env.client.get(REFUNDS, headers=env.admin))
    assert sorted(everything) == sorted(r["id"] for r in [*of_first, of_second, not_this_invoice])

    page = await env.client.get(REFUNDS, params={"invoice_id": bill["id"], "limit": 2}, headers=env.admin)
    rest = await env.client.get(
        REFUNDS, params={"invoice_id": bill["id"], "cursor": page.json()["next_cursor"]}, headers=env.admin
    )
    assert ids(page) + ids(rest) == by_invoice
    assert rest.json()["next_cursor"] is None
    assert await env.count("audit_events", "action = 'refund.list'") == 5
    assert ids(await env.client.get(REFUNDS, params={"invoice_id": MISSING}, headers=env.admin)) == []


async def test_a_patient_sees_only_their_own_refunds(env, bill):
    other = await unpaid_invoice(env)
    mine = await refunded(env, (await make_payment(env, bill["id"], "100.00"))["id"])
    theirs_payment = await make_payment(env, other["id"], "100.00")
    theirs = await refunded(env, theirs_payment["id"])
    headers = await env.user(["patient"], patient_id=bill["patient_id"])

    assert ids(await env.client.get(REFUNDS, headers=headers)) == [mine["id"]]
    for spying in ({"invoice_id": other["id"]}, {"payment_id": theirs_payment["id"]}):
        assert ids(await env.client.get(REFUNDS, params=spying, headers=headers)) == []
    assert (await env.client.get(f"{REFUNDS}/{mine['id']}", headers=headers)).json() == mine
    assert_problem(await env.client.get(f"{REFUNDS}/{theirs['id']}", headers=headers), 404, "REFUND_NOT_FOUND")


async def test_who_reads_refunds(env, bill):
    made = await refunded(env, (await make_payment(env, bill["id"], "100.00"))["id"])
    for role in ("receptionist", "billing_clerk", "claims_officer"):
        headers = await env.user([role])
        assert (await env.client.get(f"{REFUNDS}/{made['id']}", headers=headers)).status_code == 200
    doctor = await env.user(["doctor"])
    assert_problem(await env.client.get(REFUNDS, headers=doctor), 403, "FORBIDDEN")


async def test_an_unknown_refund_and_a_bad_filter(env):
    assert_problem(await env.client.get(f"{REFUNDS}/{MISSING}", headers=env.admin), 404, "REFUND_NOT_FOUND")
    response = await env.client.get(REFUNDS, params={"invoice_id": "nope"}, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")
