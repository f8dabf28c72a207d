"""Stored payment methods: only the gateway's token is kept, a card number is refused and kept nowhere, a patient
stores and uses only their own, a deleted method stays behind the payments made with it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.builders.payments import (
    PAYMENT_METHODS,
    PAYMENTS,
    assert_problem,
    invoice,
    new_key,
    pay,
    simulated_gateway,
    store_method,
    stored_method,
    unpaid_invoice,
)

MISSING = "00000000-0000-4000-8000-000000000000"
CARD_NUMBERS = ["4242424242424242", "4242 4242 4242 4242", "5555-5555-5555-4444", "378282246310005"]


@pytest.fixture
async def bill(env):
    return await unpaid_invoice(env)


async def test_a_card_is_stored_as_its_token_with_the_gateways_last4(env, bill):
    response = await store_method(env, bill["patient_id"], "tok_visa", label="Personal Visa", key=new_key())

    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "id": body["id"],
        "patient_id": bill["patient_id"],
        "type": "card",
        "label": "Personal Visa",
        "last4": "4242",
        "created_at": body["created_at"],
    }
    assert response.headers["Location"] == f"{PAYMENT_METHODS}/{body['id']}"
    assert "token" not in body
    mastercard = await stored_method(env, bill["patient_id"], "tok_mastercard", label="Work card")
    assert mastercard["last4"] == "4444"
    assert (await env.client.get(f"{PAYMENT_METHODS}/{body['id']}", headers=env.admin)).json() == body
    assert await env.count("audit_events", "action = 'payment_method.create' AND entity_id = :id", id=body["id"]) == 1


async def test_a_upi_handle_is_stored_without_last4_and_must_look_like_one(env, bill):
    upi = await stored_method(env, bill["patient_id"], "asha.k@okicici", "upi", label="GPay")
    assert (upi["type"], upi["last4"]) == ("upi", None)

    for handle in ("asha.k", "@okicici", "asha k@okicici", "asha@ok-icici", "a@b"):
        response = await store_method(env, bill["patient_id"], handle, "upi")
        assert_problem(response, 422, "INVALID_UPI_HANDLE")
    assert await env.count("payment_methods") == 1


async def test_a_token_the_gateway_does_not_hold_is_refused(env, bill):
    assert_problem(await store_method(env, bill["patient_id"], "tok_nobody"), 422, "UNKNOWN_CARD_TOKEN")
    assert_problem(await store_method(env, bill["patient_id"], "tok_timeout"), 502, "GATEWAY_UNAVAILABLE")
    assert await env.count("payment_methods") == 0


async def test_the_same_token_is_stored_once_per_patient_until_deleted(env, bill):
    first = await stored_method(env, bill["patient_id"])
    assert_problem(await store_method(env, bill["patient_id"]), 409, "PAYMENT_METHOD_ALREADY_STORED")
    assert (await env.client.delete(f"{PAYMENT_METHODS}/{first['id']}", headers=env.admin)).status_code == 204
    again = await stored_method(env, bill["patient_id"])
    assert again["id"] != first["id"]


@pytest.mark.parametrize("number", CARD_NUMBERS)
@pytest.mark.parametrize("field", ["token", "label"])
async def test_a_card_number_is_refused_and_kept_nowhere(env, bill, number, field):
    body = {"patient_id": bill["patient_id"], "type": "card", "token": "tok_visa", "label": "Visa"}
    body[field] = number if field == "token" else f"My card {number}"
    digits = number.replace(" ", "").replace("-", "")
    keys_before = await env.count("idempotency_keys")
    audit_before = await env.count("audit_events")

    response = await env.client.post(PAYMENT_METHODS, json=body, headers={**env.admin, "Idempotency-Key": new_key()})

    problem = assert_problem(response, 422, "RAW_CARD_NUMBER")
    assert problem["errors"] == [{"loc": [field], "msg": "looks like a card number"}]
    assert digits not in response.text
    assert number not in response.text
    assert await env.count("payment_methods") == 0
    assert await env.count("idempotency_keys") == keys_before
    assert await env.count("audit_events") == audit_before
    if env.db.dialect == "sqlite":  # not a byte of it in the database file or its write-ahead log
        path = Path(env.db.settings.database_url.split("///", 1)[1])
        stored = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        assert digits.encode() not in stored
        assert number.encode() not in stored


async def test_a_long_number_that_fails_luhn_is_only_a_label(env, bill):
    method = await stored_method(env, bill["patient_id"], label="Ref 4242424242424241")
    assert method["label"] == "Ref 4242424242424241"


async def test_a_card_number_as_a_payments_card_token_is_refused_before_anything(env, bill):
    response = await pay(env, bill["id"], "10.00", "card", card_token="4242 4242 4242 4242")
    assert_problem(response, 422, "RAW_CARD_NUMBER")
    assert "4242 4242" not in response.text
    assert await env.count("payments") == 0
    assert await env.count("idempotency_keys", "scope = 'payments'") == 0


async def test_storing_replays_under_its_idempotency_key(env, bill):
    key = new_key()
    first = await store_method(env, bill["patient_id"], key=key)
    again = await store_method(env, bill["patient_id"], key=key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await store_method(env, bill["patient_id"], "tok_mastercard", key=key)
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await env.count("payment_methods") == 1


async def test_patients_store_and_see_only_their_own(env, bill):
    other = await unpaid_invoice(env)
    headers = await env.user(["patient"], patient_id=bill["patient_id"])
    mine = await stored_method(env, bill["patient_id"], headers=headers)
    theirs = await stored_method(env, other["patient_id"])

    assert_problem(await store_method(env, other["patient_id"], headers=headers), 404, "PATIENT_NOT_FOUND")
    listed = (await env.client.get(PAYMENT_METHODS, headers=headers)).json()["items"]
    assert [m["id"] for m in listed] == [mine["id"]]
    spying = await env.client.get(PAYMENT_METHODS, params={"patient_id": other["patient_id"]}, headers=headers)
    assert spying.json()["items"] == []
    for method in ("get", "delete"):
        response = await env.client.request(method, f"{PAYMENT_METHODS}/{theirs['id']}", headers=headers)
        assert_problem(response, 404, "PAYMENT_METHOD_NOT_FOUND")
    assert (await env.client.delete(f"{PAYMENT_METHODS}/{mine['id']}", headers=headers)).status_code == 204


@pytest.mark.parametrize(("role", "store", "read"), [("billing_clerk", 201, 200), ("receptionist", 403, 200)])
async def test_billing_stores_for_anyone_and_the_desk_reads(env, bill, role, store, read):
    headers = await env.user([role])
    assert (await store_method(env, bill["patient_id"], headers=headers)).status_code == store
    await stored_method(env, bill["patient_id"], "tok_mastercard")
    response = await env.client.get(PAYMENT_METHODS, params={"patient_id": bill["patient_id"]}, headers=headers)
    assert response.status_code == read


async def test_doctors_neither_store_nor_read(env, bill):
    headers = await env.user(["doctor"])
    assert_problem(await store_method(env, bill["patient_id"], headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(PAYMENT_METHODS, headers=headers), 403, "FORBIDDEN")


async def test_unknown_patient_and_method(env):
    assert_problem(await store_method(env, MISSING), 404, "PATIENT_NOT_FOUND")
    response = await env.client.get(f"{PAYMENT_METHODS}/{MISSING}", headers=env.admin)
    assert_problem(response, 404, "PAYMENT_METHOD_NOT_FOUND")
    response = await env.client.delete(f"{PAYMENT_METHODS}/{MISSING}", headers=env.admin)
    assert_problem(response, 404, "PAYMENT_METHOD_NOT_FOUND")


async def test_lists_are_paged_filtered_and_audited(env, bill):
    made = [
        await stored_method(env, bill["patient_id"], token, label=f"card {n}")
        for n, token in enumerate(["tok_visa", "tok_mastercard", "tok_declined"])
    ]
    upi = await stored_method(env, bill["patient_id"], "asha@ybl", "upi")
    params = {"patient_id": bill["patient_id"], "limit": 2}
    first = (await env.client.get(PAYMENT_METHODS, params=params, headers=env.admin)).json()
    rest = await env.client.get(PAYMENT_METHODS, params={**params, "cursor": first["next_cursor"]}, headers=env.admin)
    paged = [m["id"] for m in first["items"] + rest.json()["items"]]
    assert sorted(paged) == sorted(m["id"] for m in [*made, upi])  # stored at one frozen instant: in id order
    only_upi = await env.client.get(PAYMENT_METHODS, params={"type": "upi"}, headers=env.admin)
    assert [m["id"] for m in only_upi.json()["items"]] == [upi["id"]]
    assert await env.count("audit_events", "action = 'payment_method.list_read'") == 5


# --- paying with a stored method


async def test_a_stored_card_pays_through_the_gateway_with_its_token(env, bill):
    card = await stored_method(env, bill["patient_id"], "tok_mastercard")
    response = await pay(env, bill["id"], "100.00", "card", card_token=None, payment_method_id=card["id"])

    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["method"], payment["payment_method_id"], payment["status"]) == ("card", card["id"], "completed")
    charged = list(simulated_gateway(env).charges.values())
    assert [(c.token, str(c.amount)) for c in charged] == [("tok_mastercard", "100.00")]
    assert (await invoice(env, bill["id"]))["amount_paid"] == "100.00"


async def test_a_stored_declining_card_is_a_failed_payment(env, bill):
    card = await stored_method(env, bill["patient_id"], "tok_declined")
    response = await pay(env, bill["id"], "100.00", "card", card_token=None, payment_method_id=card["id"])
    assert_problem(response, 402, "PAYMENT_DECLINED")


async def test_a_stored_upi_handle_names_a_upi_payment(env, bill):
    upi = await stored_method(env, bill["patient_id"], "asha@ybl", "upi")
    payment = (await pay(env, bill["id"], "50.00", "upi", payment_method_id=upi["id"])).json()
    assert (payment["method"], payment["payment_method_id"]) == ("upi", upi["id"])


async def test_a_payment_with_a_stored_card_replays_under_its_key(env, bill):
    card = await stored_method(env, bill["patient_id"])
    key = new_key()
    responses = await asyncio.gather(
        *(
            pay(env, bill["id"], "100.00", "card", card_token=None, payment_method_id=card["id"], key=key)
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] * 4
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    assert await env.count("payments") == 1
    assert simulated_gateway(env).captured() == 100


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("card", {"card_token": "tok_visa"}),  # both a token and a stored method
        ("cash", {}),  # cash is not paid with a stored method
        ("bank_transfer", {}),
    ],
)
async def test_a_stored_method_goes_only_where_it_belongs(env, bill, method, extra):
    card = await stored_method(env, bill["patient_id"])
    body = {"invoice_id": bill["id"], "amount": "10.00", "method": method, "payment_method_id": card["id"], **extra}
    response = await env.client.post(PAYMENTS, json=body, headers={**env.admin, "Idempotency-Key": new_key()})
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await env.count("payments") == 0


async def test_a_stored_card_does_not_pay_upi_nor_another_patients_invoice(env, bill):
    other = await unpaid_invoice(env)
    card = await stored_method(env, bill["patient_id"])
    upi = await pay(env, bill["id"], "10.00", "upi", payment_method_id=card["id"])
    assert_problem(upi, 422, "PAYMENT_METHOD_MISMATCH")
    elsewhere = await pay(env, other["id"], "10.00", "card", card_token=None, payment_method_id=card["id"])
    assert_problem(elsewhere, 422, "PAYMENT_METHOD_MISMATCH")
    assert await env.count("payments") == 0
    assert (await invoice(env, other["id"]))["balance_due"] == other["balance_due"]


async def test_a_patient_cannot_pay_with_someone_elses_method(env, bill):
    other = await unpaid_invoice(env)
    theirs = await stored_method(env, other["patient_id"])
    headers = await env.user(["patient"], patient_id=bill["patient_id"])
    response = await pay(
        env, bill["id"], "10.00", "card", card_token=None, payment_method_id=theirs["id"], headers=headers
    )
    assert_problem(response, 404, "PAYMENT_METHOD_NOT_FOUND")


async def test_a_deleted_method_cannot_pay_but_its_payments_stay_readable(env, bill):
    card = await stored_method(env, bill["patient_id"])
    paid = (await pay(env, bill["id"], "10.00", "card", card_token=None, payment_method_id=card["id"])).json()

    assert (await env.client.delete(f"{PAYMENT_METHODS}/{card['id']}", headers=env.admin)).status_code == 204

    response = await pay(env, bill["id"], "10.00", "card", card_token=None, payment_method_id=card["id"])
    assert_problem(response, 404, "PAYMENT_METHOD_NOT_FOUND")
    assert_problem(
        await env.client.get(f"{PAYMENT_METHODS}/{card['id']}", headers=env.admin), 404, "PAYMENT_METHOD_NOT_FOUND"
    )
    listed = await env.client.get(PAYMENT_METHODS, params={"patient_id": bill["patient_id"]}, headers=env.admin)
    assert listed.json()["items"] == []
    read = (await env.client.get(f"{PAYMENTS}/{paid['id']}", headers=env.admin)).json()
    assert read == paid
    assert read["payment_method_id"] == card["id"]
    assert await env.count("audit_events", "action = 'payment_method.delete' AND entity_id = :id", id=card["id"]) == 1
