"""Idempotency-Key on every POST: a retry answers the first response and does nothing more, another request
with the key is 422, concurrent retries create one thing, keys are per user and operation, failures keep the
key free. Through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from fastapi import APIRouter
from sqlalchemy import text

from caremesh.platform.api import CurrentPrincipal, TransactionalRoute, Uow
from caremesh.platform.errors import DomainError
from caremesh.platform.idempotency import keys
from tests.builders.orders import ORDERS, parties, prescription, stock_medication
from tests.builders.patients import patient_body
from tests.builders.pharmacy import quantities, restock
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, assert_problem

PATIENTS = "/api/v1/patients"
APPOINTMENTS = "/api/v1/appointments"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


async def written(env) -> dict[str, object]:
    """What a request that must do nothing leaves as it was."""
    return {
        "patients": await env.count("patients"),
        "orders": await env.count("orders"),
        "keys": await env.count("idempotency_keys"),
        "outbox": await env.outbox_types(),
    }


async def test_a_retry_replays_the_first_response_and_creates_nothing(env):
    key, body = new_key(), patient_body()
    first = await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key))
    assert first.status_code == 201, first.text
    state = await written(env)

    again = await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key))
    once_more = await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key))

    assert "Idempotent-Replayed" not in first.headers
    for replay in (again, once_more):
        assert (replay.status_code, replay.content) == (201, first.content)
        assert replay.headers["Idempotent-Replayed"] == "true"
        for header in ("content-type", "etag", "location"):
            assert replay.headers.get(header) == first.headers.get(header), header
    assert await written(env) == state
    assert await env.count("patients") == 1
    assert await env.count("audit_events", "action = 'request.replay'") == 2


async def test_fields_in_another_order_are_the_same_request(env):
    key, body = new_key(), patient_body()
    first = await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key))
    reordered = dict(reversed(list(body.items())))
    again = await env.client.post(PATIENTS, json=reordered, headers=keyed(env.admin, key))
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, first.content, "true")


async def test_the_same_key_with_another_body_is_422_and_writes_nothing(env):
    key = new_key()
    assert (await env.client.post(PATIENTS, json=patient_body(), headers=keyed(env.admin, key))).status_code == 201
    state = await written(env)

    other = await env.client.post(PATIENTS, json=patient_body(first_name="Other"), headers=keyed(env.admin, key))

    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await written(env) == state


async def test_the_same_key_on_another_resource_is_422(env):
    medication = await stock_medication(env, stock=5)
    other = await stock_medication(env, stock=5)
    key = new_key()
    assert (await restock(env, medication["id"], 3, headers=keyed(env.admin, key))).status_code == 200

    response = await restock(env, other["id"], 3, headers=keyed(env.admin, key))

    assert_problem(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await quantities(env, other["id"]) == (5, 0, 5)


@pytest.mark.parametrize("key", ["x" * 256, "tab\tkey", "   ", ""])
async def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_400_and_writes_nothing(env, key):
    state = await written(env)
    response = await env.client.post(PATIENTS, json=patient_body(), headers=keyed(env.admin, key))
    assert_problem(response, 400, "IDEMPOTENCY_KEY_INVALID")
    assert await written(env) == state


async def test_the_longest_key_works(env):
    response = await env.client.post(PATIENTS, json=patient_body(), headers=keyed(env.admin, "k" * 255))
    assert response.status_code == 201, response.text


async def test_without_a_key_every_request_creates(env):
    body = patient_body()
    for _ in range(2):
        assert (await env.client.post(PATIENTS, json=body, headers=env.admin)).status_code == 201
    assert (await env.count("patients"), await env.count("idempotency_keys")) == (2, 0)


async def test_keys_belong_to_the_user_who_sent_them(env):
    receptionist = await env.user(["receptionist"])
    key, body = new_key(), patient_body()
    mine = await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key))
    theirs = await env.client.post(PATIENTS, json=body, headers=keyed(receptionist, key))
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert await env.count("patients") == 2


async def test_keys_belong_to_one_operation(env):
    key = new_key()
    patient = await env.client.post(PATIENTS, json=patient_body(), headers=keyed(env.admin, key))
    medication = await env.client.post(
        "/api/v1/medications",
        json={"code": "MED-KEY", "name": "Keyed", "unit": "tablet", "unit_price": "1.00", "stock_quantity": 1},
        headers=keyed(env.admin, key),
    )
    assert (patient.status_code, medication.status_code) == (201, 201), medication.text
    assert "Idempotent-Replayed" not in medication.headers


async def test_a_failed_request_leaves_the_key_free_for_the_corrected_one(env):
    patient, practitioner = await parties(env)
    key = new_key()
    body = {"patient_id": str(uuid.uuid4()), "practitioner_id": practitioner["id"], "start": "2030-01-07T09:00:00Z"}

    failed = await env.client.post(APPOINTMENTS, json=body, headers=keyed(env.admin, key))

    assert_problem(failed, 404, "PATIENT_NOT_FOUND")
    assert (await env.count("appointments"), await env.count("idempotency_keys")) == (0, 0)
    corrected = await env.client.post(
        APPOINTMENTS, json={**body, "patient_id": patient["id"]}, headers=keyed(env.admin, key)
    )
    assert corrected.status_code == 201, corrected.text
    assert_problem(await env.client.post(APPOINTMENTS, json=body, headers=keyed(env.admin, key)), 422,
                   "IDEMPOTENCY_KEY_REUSED")  # fmt: skip
    assert await env.count("appointments") == 1


async def test_an_invalid_body_leaves_the_key_free(env):
    key = new_key()
    assert_problem(
        await env.client.post(PATIENTS, json={"first_name": ""}, headers=keyed(env.admin, key)), 422, "VALIDATION_ERROR"
    )
    assert await env.count("idempotency_keys") == 0
    assert (await env.client.post(PATIENTS, json=patient_body(), headers=keyed(env.admin, key))).status_code == 201


async def test_concurrent_retries_register_one_patient(env):
    await env.warm_pool()
    key, body = new_key(), patient_body()

    responses = await asyncio.gather(
        *(env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key)) for _ in range(10))
    )

    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    originals = [r for r in responses if "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1
    assert {r.content for r in responses} == {originals[0].content}
    assert (await env.count("patients"), await env.count("idempotency_keys")) == (1, 1)
    assert (await env.outbox_types()).count("patient.registered") == 1


async def test_concurrent_retries_of_an_order_place_it_once_and_reserve_the_stock_once(env):
    patient, practitioner = await parties(env)
    medication = await stock_medication(env, stock=10)
    body = prescription(patient, practitioner, (medication, 3))
    await env.warm_pool()
    key = new_key()

    responses = await asyncio.gather(
        *(env.client.post(ORDERS, json=body, headers=keyed(env.admin, key)) for _ in range(10))
    )
    await env.drain()
    later = await env.client.post(ORDERS, json=body, headers=keyed(env.admin, key))
    await env.drain()

    assert all(r.status_code == 202 for r in [*responses, later]), [r.text for r in responses]
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert len({r.json()["id"] for r in [*responses, later]}) == 1
    assert later.headers["Idempotent-Replayed"] == "true"
    assert await env.count("orders") == 1
    assert await quantities(env, medication["id"]) == (10, 3, 7)


async def test_a_retried_restock_adds_the_stock_once(env):
    medication = await stock_medication(env, stock=5)
    key = new_key()
    first = await restock(env, medication["id"], 4, headers=keyed(env.admin, key))
    again = await restock(env, medication["id"], 4, headers=keyed(env.admin, key))
    assert (first.status_code, again.status_code) == (200, 200), first.text
    assert (again.content, again.headers["etag"], again.headers["Idempotent-Replayed"]) == (
        first.content,
        first.headers["etag"],
        "true",
    )
    assert await quantities(env, medication["id"]) == (9, 0, 9)


async def test_a_replay_needs_the_same_principal_to_be_authenticated(env):
    key, body = new_key(), patient_body()
    assert (await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, key))).status_code == 201
    anonymous = await env.client.post(PATIENTS, json=body, headers={"Idempotency-Key": key})
    assert_problem(anonymous, 401, "UNAUTHENTICATED")
    doctor = await env.user(["doctor"])  # may not register patients: no replay of someone else's response either
    forbidden = await env.client.post(PATIENTS, json=body, headers=keyed(doctor, key))
    assert forbidden.status_code == 403, forbidden.text


async def test_pruning_forgets_settled_keys_older_than_the_retention_and_keeps_unfinished_ones(env):
    old_key, body = new_key(), patient_body()
    assert (await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, old_key))).status_code == 201
    async with env.uow() as uow:  # an unfinished payment attempt, as payments leave one between transactions
        await keys.claim(uow, "payments", new_key(), "f" * 64, abandoned_after=timedelta(seconds=15))
    env.clock.advance(days=8)
    env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)  # the old token has expired
    young = await env.client.post(PATIENTS, json=patient_body(), headers=keyed(env.admin, new_key()))
    assert young.status_code == 201

    async with env.uow() as uow:
        pruned = await keys.prune(uow.session, before=env.clock.now() - timedelta(days=7))

    assert pruned == 1
    assert await env.count("idempotency_keys") == 2
    assert await env.count("idempotency_keys", "state = 'in_progress'") == 1
    # A forgotten key is a new key: the request runs again.
    again = await env.client.post(PATIENTS, json=body, headers=keyed(env.admin, old_key))
    assert (again.status_code, "Idempotent-Replayed" in again.headers) == (201, False)


async def test_a_new_users_password_is_not_kept_nor_hashed_plainly_under_the_key(env):
    body = {"email": "keyed@example.org", "password": "a-long-test-password-42", "full_name": "K", "roles": ["nurse"]}
    response = await env.client.post("/api/v1/users", json=body, headers=keyed(env.admin, new_key()))
    assert response.status_code == 201, response.text
    async with env.db.engine.connect() as connection:
        row = (await connection.execute(text("SELECT fingerprint, response_text FROM idempotency_keys"))).one()
    assert body["password"] not in row.response_text
    plain = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert row.fingerprint not in {plain, keys.fingerprint("POST /api/v1/users", body)}


class _Refused(DomainError):
    status, code, title = 409, "TEST_REFUSED", "Refused, with what was written kept"
    keeps_side_effects = True


async def test_an_error_whose_writes_commit_is_stored_and_replayed(env):
    router = APIRouter(route_class=TransactionalRoute)

    @router.post("/test-kept-errors", status_code=201)
    async def refuse(uow: Uow, _: CurrentPrincipal) -> dict[str, str]:
        uow.publish_payload("test.written", {"n": 1})
        raise _Refused("The attempt counts.")

    env.app.include_router(router, prefix="/api/v1")
    key = new_key()
    first = await env.client.post("/api/v1/test-kept-errors", json={}, headers=keyed(env.admin, key))
    again = await env.client.post("/api/v1/test-kept-errors", json={}, headers=keyed(env.admin, key))

    assert_problem(first, 409, "TEST_REFUSED")
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (409, first.content, "true")
    assert again.headers["content-type"] == first.headers["content-type"]
    assert (await env.outbox_types()).count("test.written") == 1
