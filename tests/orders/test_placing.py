"""Placing and reading orders: validation, references, roles and what a patient sees."""

from __future__ import annotations

import uuid

import pytest

from tests.builders.orders import (
    ORDERS,
    lab_order,
    make_lab_test,
    parties,
    place,
    place_order,
    prescription,
    read,
    stock_medication,
)
from tests.harness import assert_problem, outbox_payloads


async def test_an_order_is_accepted_pending_with_its_items(env):
    amoxicillin = await stock_medication(env)
    patient, practitioner = await parties(env)
    body = prescription(patient, practitioner, (amoxicillin, 3))
    body["items"][0]["dosage"] = "1 capsule three times a day"
    body["notes"] = "after meals"

    response = await place(env, body)

    assert response.status_code == 202, response.text
    placed = response.json()
    assert response.headers["Location"] == f"{ORDERS}/{placed['id']}"
    assert response.headers["ETag"] == '"1"'
    assert placed["number"].startswith("ORD-")
    assert (placed["type"], placed["status"], placed["version"], placed["notes"]) == (
        "prescription",
        "pending",
        1,
        "after meals",
    )
    assert placed["items"] == [
        {
            "medication_id": amoxicillin["id"],
            "quantity": 3,
            "dosage": "1 capsule three times a day",
            "lab_test_id": None,
            "imaging_study_id": None,
        }
    ]
    [event] = await outbox_payloads(env, "order.placed")
    assert event["items"] == [
        {"medication_id": amoxicillin["id"], "quantity": 3, "dosage": "1 capsule three times a day"}
    ]
    assert (event["order_id"], event["patient_id"], event["type"]) == (placed["id"], patient["id"], "prescription")
    assert await read(env, f"{ORDERS}/{placed['id']}") == placed
    events = await read(env, f"{ORDERS}/{placed['id']}/events")
    assert ([e["step"] for e in events["items"]], events["next_cursor"]) == (["placed"], None)


@pytest.mark.parametrize(
    "change",
    [
        {"items": []},
        {"type": "surgery"},
        {"items": [{"quantity": 1}]},
        {"items": [{"medication_id": "MEDICATION", "quantity": 0}]},
        {"items": [{"lab_test_id": "LAB"}]},
        {"items": [{"medication_id": "MEDICATION", "quantity": 1, "colour": "red"}]},
        {"notes": "x" * 2001},
        {"patient_id": "not-a-uuid"},
    ],
)
async def test_malformed_orders_are_refused_and_change_nothing(env, change):
    medication = await stock_medication(env)
    patient, practitioner = await parties(env)
    body = prescription(patient, practitioner, (medication, 1))
    if "items" in change:
        change = {
            "items": [
                {
                    k: medication["id"] if v == "MEDICATION" else str(uuid.uuid4()) if v == "LAB" else v
                    for k, v in i.items()
                }
                for i in change["items"]
            ]
        }
    assert_problem(await place(env, {**body, **change}), 422, "VALIDATION_ERROR")
    assert await env.count("orders") == 0


async def test_a_lab_order_names_only_lab_tests(env):
    test = await make_lab_test(env)
    medication = await stock_medication(env)
    patient, practitioner = await parties(env)
    body = lab_order(patient, practitioner, test)
    body["items"].append({"medication_id": medication["id"], "quantity": 1})
    assert_problem(await place(env, body), 422, "VALIDATION_ERROR")


async def test_unknown_references_are_404s(env):
    medication = await stock_medication(env)
    test = await make_lab_test(env)
    patient, practitioner = await parties(env)
    unknown = {"id": str(uuid.uuid4())}

    assert_problem(await place(env, prescription(unknown, practitioner, (medication, 1))), 404, "PATIENT_NOT_FOUND")
    assert_problem(await place(env, prescription(patient, unknown, (medication, 1))), 404, "PRACTITIONER_NOT_FOUND")
    problem = assert_problem(
        await place(env, prescription(patient, practitioner, (medication, 1), (unknown, 1))),
        404,
        "MEDICATION_NOT_FOUND",
    )
    assert unknown["id"] in problem["detail"]
    assert_problem(await place(env, lab_order(patient, practitioner, test, unknown)), 404, "LAB_TEST_NOT_FOUND")
    assert await env.count("orders") == 0
    assert await env.count("outbox_events", "type = 'order.placed'") == 0


async def test_doctors_order_and_cancel_others_may_not(env):
    medication = await stock_medication(env)
    patient, practitioner = await parties(env)
    body = prescription(patient, practitioner, (medication, 1))
    doctor = await env.user(["doctor"])
    for role in ("receptionist", "pharmacist", "lab_technician", "billing_clerk", "nurse"):
        assert_problem(await place(env, body, await env.user([role])), 403, "FORBIDDEN")
    placed = await place_order(env, body, doctor)
    nurse = await env.user(["nurse"])
    assert (await env.client.get(f"{ORDERS}/{placed['id']}", headers=nurse)).status_code == 200
    response = await env.client.post(f"{ORDERS}/{placed['id']}/cancel", headers=nurse)
    assert_problem(response, 403, "FORBIDDEN")
    assert (await env.client.post(f"{ORDERS}/{placed['id']}/cancel", headers=doctor)).status_code == 200


async def test_a_patient_sees_only_their_own_orders(env):
    medication = await stock_medication(env)
    patient, practitioner = await parties(env)
    other, _ = await parties(env)
    mine = await place_order(env, prescription(patient, practitioner, (medication, 1)))
    theirs = await place_order(env, prescription(other, practitioner, (medication, 1)))
    headers = await env.user(["patient"], patient_id=patient["id"])

    assert [o["id"] for o in (await read(env, ORDERS, headers))["items"]] == [mine["id"]]
    assert [o["id"] for o in (await read(env, ORDERS, headers, patient_id=other["id"]))["items"]] == []
    assert (await env.client.get(f"{ORDERS}/{mine['id']}", headers=headers)).status_code == 200
    assert_problem(await env.client.get(f"{ORDERS}/{theirs['id']}", headers=headers), 404, "ORDER_NOT_FOUND")
    assert_problem(await env.client.get(f"{ORDERS}/{theirs['id']}/events", headers=headers), 404, "ORDER_NOT_FOUND")
    assert_problem(await place(env, prescription(patient, practitioner, (medication, 1)), headers), 403, "FORBIDDEN")


async def test_lists_filter_and_page_in_order_of_number(env):
    medication = await stock_medication(env)
    test = await make_lab_test(env)
    patient, practitioner = await parties(env)
    other, _ = await parties(env)
    first = await place_order(env, prescription(patient, practitioner, (medication, 1)))
    second = await place_order(env, lab_order(patient, practitioner, test))
    third = await place_order(env, prescription(other, practitioner, (medication, 1)))

    async def ids(**params):
        return [o["id"] for o in (await read(env, ORDERS, **params))["items"]]

    assert await ids(patient_id=patient["id"]) == [first["id"], second["id"]]
    assert await ids(type="lab") == [second["id"]]
    assert await ids(status="pending") == [first["id"], second["id"], third["id"]]
    assert await ids(status="confirmed") == []
    page = await read(env, ORDERS, limit=2)
    rest = await read(env, ORDERS, limit=2, cursor=page["next_cursor"])
    assert [o["id"] for o in page["items"] + rest["items"]] == [first["id"], second["id"], third["id"]]
    assert rest["next_cursor"] is None
    assert_problem(await env.client.get(ORDERS, params={"status": "lost"}, headers=env.admin), 422, "VALIDATION_ERROR")
