"""MedicationRequest: each medication of a prescription order, read and searched; ids that read back; the orders
API's roles and patient scoping; audited reads."""

from __future__ import annotations

import uuid

import pytest

from caremesh.fhir.medications import REQUEST_STATUS, order_and_position, request_id
from caremesh.orders.contract import OrderStatus
from caremesh.orders.schemas import MAX_ITEMS
from tests.builders.orders import parties, place_order, prescription, stock_medication
from tests.builders.patients import make_patient
from tests.fhir.fhir_client import FHIR, assert_outcome, audited, read, resources, search, search_all


def test_every_item_position_has_an_id_that_reads_back_and_none_is_the_orders():
    order_id = uuid.uuid4()
    ids = [request_id(order_id, position) for position in range(1, MAX_ITEMS + 1)]
    assert len(set(ids)) == MAX_ITEMS
    assert order_id not in ids
    assert [order_and_position(i) for i in ids] == [(order_id, p) for p in range(1, MAX_ITEMS + 1)]
    assert order_and_position(order_id) is None


def test_every_order_status_has_its_request_status():
    assert set(REQUEST_STATUS) == {status.value for status in OrderStatus}


@pytest.fixture
async def prescribed(env):
    """A prescription of two medications for a patient (with a dosage on the first); another patient's."""
    patient, doctor = await parties(env)
    amoxicillin = await stock_medication(env, name="Amoxicillin 500 mg")
    paracetamol = await stock_medication(env, name="Paracetamol 500 mg", unit="tablet")
    body = prescription(patient, doctor, (amoxicillin, 21), (paracetamol, 10))
    body["items"][0]["dosage"] = "1 capsule three times a day for 7 days"
    order = await place_order(env, body)
    other = await make_patient(env)
    theirs = await place_order(env, prescription(other, doctor, (paracetamol, 5)))
    return env, patient, doctor, order, theirs


async def test_a_prescribed_medication_reads_as_a_medication_request(prescribed):
    env, patient, doctor, order, _ = prescribed
    first = request_id(uuid.UUID(order["id"]), 1)

    resource = await read(env, f"MedicationRequest/{first}")

    assert (resource["intent"], resource["status"]) == ("order", "active")
    assert resource["medicationCodeableConcept"]["text"] == "Amoxicillin 500 mg"
    assert resource["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert resource["requester"] == {"reference": f"Practitioner/{doctor['id']}"}
    assert resource["groupIdentifier"]["value"] == order["number"]
    assert resource["dispenseRequest"]["quantity"] == {"value": 21, "unit": "capsule"}
    assert resource["dosageInstruction"] == [{"sequence": 1, "text": "1 capsule three times a day for 7 days"}]


async def test_a_cancelled_prescription_is_cancelled(prescribed):
    env, _, _, order, _ = prescribed
    cancelled = await env.client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=env.admin)
    assert cancelled.status_code == 200, cancelled.text

    resource = await read(env, f"MedicationRequest/{request_id(uuid.UUID(order['id']), 2)}")

    assert resource["status"] == "cancelled"


async def test_medication_requests_are_searched_by_patient_over_pages(prescribed):
    env, patient, _, order, _ = prescribed
    order_id = uuid.UUID(order["id"])

    found, pages = await search_all(env, "MedicationRequest", patient=f"Patient/{patient['id']}", _count=1)

    assert ([r["id"] for r in found], pages) == ([str(request_id(order_id, 1)), str(request_id(order_id, 2))], 2)
    assert len(resources(await search(env, "MedicationRequest"))) == 3


async def test_an_unknown_item_a_lab_order_or_the_orders_own_id_is_not_found(prescribed):
    env, _, _, order, _ = prescribed
    order_id = uuid.UUID(order["id"])
    for value in (order_id, request_id(order_id, 3), request_id(uuid.uuid4(), 1), "not-a-uuid"):
        response = await env.client.get(f"{FHIR}/MedicationRequest/{value}", headers=env.admin)
        assert_outcome(response, 404, "not-found")


async def test_a_patient_sees_only_their_own_prescriptions(prescribed):
    env, patient, _, order, theirs = prescribed
    headers = await env.user(roles=["patient"], patient_id=patient["id"])

    mine = request_id(uuid.UUID(order["id"]), 1)
    assert (await read(env, f"MedicationRequest/{mine}", headers))["id"] == str(mine)
    other = await env.client.get(f"{FHIR}/MedicationRequest/{request_id(uuid.UUID(theirs['id']), 1)}", headers=headers)
    assert_outcome(other, 404, "not-found", "ORDER_NOT_FOUND")
    assert len(resources(await search(env, "MedicationRequest", headers))) == 2


async def test_roles_and_audit_are_the_orders_apis(prescribed):
    env, _, _, order, _ = prescribed
    clerk = await env.user(roles=["billing_clerk"])  # no orders:read in the JSON API either

    assert_outcome(await env.client.get(f"{FHIR}/MedicationRequest", headers=clerk), 403, "forbidden", "FORBIDDEN")
    pharmacist = await env.user(roles=["pharmacist"])
    await read(env, f"MedicationRequest/{request_id(uuid.UUID(order['id']), 1)}", pharmacist)
    assert await audited(env, "order.read", order["id"]) == 1
