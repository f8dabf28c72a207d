"""Results: once, only for a scheduled lab order of a confirmed order; lab.result_ready without the values."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from tests.builders.lab import LAB_ORDERS, RESULT, cancel, confirm, get_json, lab_orders, make_lab_test, place, placed
from tests.builders.lab import result as post_result
from tests.builders.notifications import list_notifications
from tests.builders.patients import make_patient
from tests.harness import assert_problem, outbox_payloads, outbox_rows


async def booked_order(env, *tests, confirmed=True):
    patient = await make_patient(env)
    order = placed(patient["id"], *tests)
    await place(env, order)
    if confirmed:
        await confirm(env, order)
    return patient, order, await lab_orders(env, order_id=order["order_id"])


async def test_results_are_recorded_once_and_read_back(env):
    test = await make_lab_test(env)
    patient, order, [booking] = await booked_order(env, test)
    assert booking["order_confirmed"] is True

    response = await post_result(env, booking["id"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["resulted_at"]) == ("resulted", "2030-01-07T06:00:00Z")
    assert body["results"] == RESULT["values"]
    assert (await get_json(env, f"{LAB_ORDERS}/{booking['id']}")) == body
    again = assert_problem(await post_result(env, booking["id"]), 409, "LAB_ORDER_NOT_RESULTABLE")
    assert "already" in again["detail"]
    [ready] = await outbox_payloads(env, "lab.result_ready")
    assert ready == {
        "lab_order_id": booking["id"],
        "order_id": order["order_id"],
        "patient_id": patient["id"],
        "lab_test_id": test["id"],
        "order_fully_resulted": True,
        "resulted_at": "2030-01-07T06:00:00Z",
    }


async def test_before_confirmation_and_after_cancellation_results_are_refused(env):
    test = await make_lab_test(env)
    _, order, [booking] = await booked_order(env, test, confirmed=False)
    early = assert_problem(await post_result(env, booking["id"]), 409, "LAB_ORDER_NOT_RESULTABLE")
    assert "not confirmed" in early["detail"]

    await confirm(env, order)
    await cancel(env, order)

    late = assert_problem(await post_result(env, booking["id"]), 409, "LAB_ORDER_NOT_RESULTABLE")
    assert "cancelled" in late["detail"]
    assert (await get_json(env, f"{LAB_ORDERS}/{booking['id']}"))["results"] is None
    assert await outbox_payloads(env, "lab.result_ready") == []


async def test_the_order_is_fully_resulted_with_its_last_standing_lab_order(env):
    test = await make_lab_test(env)
    _, _, [first, second] = await booked_order(env, test, test)

    assert (await post_result(env, second["id"])).status_code == 200
    assert (await post_result(env, first["id"])).status_code == 200

    flags = [(p["lab_order_id"], p["order_fully_resulted"]) for p in await outbox_payloads(env, "lab.result_ready")]
    assert flags == [(second["id"], False), (first["id"], True)]


async def test_the_patient_is_told_results_are_ready_without_the_values(env):
    test = await make_lab_test(env)
    patient, _, [booking] = await booked_order(env, test)

    assert (await post_result(env, booking["id"])).status_code == 200
    await env.drain()

    messages = await list_notifications(env, recipient_id=patient["id"])
    ready = sorted(m["template"] for m in messages if m["template"].startswith("lab_result_ready"))
    assert ready == ["lab_result_ready.email", "lab_result_ready.sms"]  # besides the order's confirmation
    assert all("13.5" not in m["body"] for m in messages)
    payloads = [row.payload for row in await outbox_rows(env)]
    assert all("13.5" not in json.dumps(p) for p in payloads)


@pytest.mark.parametrize(
    "body",
    [
        {"values": []},
        {},
        {"values": [{"name": "Hb"}]},
        {"values": [{"name": "", "value": "1"}]},
        {"values": [{"name": "Hb", "value": "x" * 201}]},
        {"values": [{"name": "Hb", "value": "1", "unit": "u" * 41}]},
        {"values": [{"name": "Hb", "value": "1", "comment": "extra"}]},
        {"values": [{"name": "Hb", "value": "1"}] * 101},
    ],
)
async def test_malformed_results_are_refused_and_nothing_changes(env, body):
    test = await make_lab_test(env)
    _, _, [booking] = await booked_order(env, test)
    response = await env.client.post(f"{LAB_ORDERS}/{booking['id']}/result", json=body, headers=env.admin)
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert (await get_json(env, f"{LAB_ORDERS}/{booking['id']}"))["status"] == "scheduled"


async def test_an_unknown_lab_order_is_404(env):
    missing = uuid.uuid4()
    assert_problem(await env.client.get(f"{LAB_ORDERS}/{missing}", headers=env.admin), 404, "LAB_ORDER_NOT_FOUND")
    assert_problem(await post_result(env, str(missing)), 404, "LAB_ORDER_NOT_FOUND")


async def test_roles_and_a_patient_sees_only_their_own_lab_orders(env):
    test = await make_lab_test(env)
    mine_patient, _, [my_booking] = await booked_order(env, test)
    _, theirs, [their_booking] = await booked_order(env, test)
    patient = await env.user(["patient"], patient_id=mine_patient["id"])

    assert [o["id"] for o in await lab_orders(env, patient)] == [my_booking["id"]]
    assert await lab_orders(env, patient, order_id=theirs["order_id"]) == []
    own = await env.client.get(f"{LAB_ORDERS}/{my_booking['id']}", headers=patient)
    assert own.status_code == 200
    other = await env.client.get(f"{LAB_ORDERS}/{their_booking['id']}", headers=patient)
    assert_problem(other, 404, "LAB_ORDER_NOT_FOUND")
    assert_problem(await post_result(env, my_booking["id"], headers=patient), 403, "FORBIDDEN")

    receptionist = await env.user(["receptionist"])
    assert_problem(await env.client.get(LAB_ORDERS, headers=receptionist), 403, "FORBIDDEN")
    doctor = await env.user(["doctor"])
    assert len(await lab_orders(env, doctor)) == 2
    assert_problem(await post_result(env, my_booking["id"], headers=doctor), 403, "FORBIDDEN")
    technician = await env.user(["lab_technician"])
    assert (await post_result(env, my_booking["id"], headers=technician)).status_code == 200


async def test_filters_by_order_patient_and_status(env):
    test = await make_lab_test(env)
    patient, order, [first, second] = await booked_order(env, test, test)
    await booked_order(env, test)
    assert (await post_result(env, first["id"])).status_code == 200

    assert [o["id"] for o in await lab_orders(env, status="resulted")] == [first["id"]]
    assert [o["id"] for o in await lab_orders(env, patient_id=patient["id"], status="scheduled")] == [second["id"]]
    assert len(await lab_orders(env, order_id=order["order_id"], limit=1)) == 2  # follows the cursor
    bad = await env.client.get(LAB_ORDERS, params={"status": "lost"}, headers=env.admin)
    assert_problem(bad, 422, "VALIDATION_ERROR")


async def test_reads_and_results_of_lab_orders_are_audited(env):
    test = await make_lab_test(env)
    _, _, [booking] = await booked_order(env, test)
    await env.client.get(f"{LAB_ORDERS}/{booking['id']}", headers=env.admin)
    await post_result(env, booking["id"])
    await env.drain()  # the sealer gives them their seq

    async with env.db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT action FROM audit_events WHERE entity_id = :id ORDER BY seq"), {"id": booking["id"]}
        )
        actions = [row[0] for row in rows]
    assert actions == ["lab_order.schedule", "lab_order.list_read", "lab_order.read", "lab_order.result"]
