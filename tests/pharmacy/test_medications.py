"""The medication catalogue through the API: create, read, list, restock; validation, codes, roles."""

from __future__ import annotations

import uuid

import pytest

from tests.builders.pharmacy import (
    MEDICATIONS,
    assert_problem,
    create,
    make_medication,
    medication,
    medication_body,
    patient_user,
    restock,
)


async def test_a_medication_is_created_with_its_stock(env):
    response = await create(
        env, code=" amx-500 ", name="Amoxicillin 500 mg", unit="capsule", unit_price="12.5", stock_quantity=40
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{MEDICATIONS}/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert {k: body[k] for k in ("code", "name", "unit", "unit_price", "currency")} == {
        "code": "AMX-500",
        "name": "Amoxicillin 500 mg",
        "unit": "capsule",
        "unit_price": "12.50",
        "currency": "INR",
    }
    assert (body["stock_quantity"], body["reserved_quantity"], body["available_quantity"]) == (40, 0, 40)
    assert (body["version"], body["created_at"], body["updated_at"]) == (1, "2030-01-07T06:00:00Z", body["created_at"])

    read = await env.client.get(f"{MEDICATIONS}/{body['id']}", headers=env.admin)
    assert read.status_code == 200
    assert (read.json(), read.headers["ETag"]) == (body, '"1"')


@pytest.mark.parametrize(
    "overrides",
    [
        {"code": ""},
        {"code": "has space"},
        {"code": "X" * 41},
        {"name": " "},
        {"name": "n" * 201},
        {"unit": ""},
        {"unit_price": "-0.01"},
        {"unit_price": "1.005"},
        {"unit_price": "NaN"},
        {"unit_price": "100000000.00"},
        {"stock_quantity": -1},
        {"stock_quantity": 1.5},
        {"stock_quantity": None},
        {"colour": "red"},
        {"name": "Amoxi\x00cillin"},
    ],
)
async def test_malformed_medications_are_refused_with_422(env, overrides):
    body = medication_body(**overrides)
    if overrides.get("stock_quantity", 0) is None:
        del body["stock_quantity"]
    response = await env.client.post(MEDICATIONS, json=body, headers=env.admin)

    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await env.count("medications") == 0


async def test_a_code_is_taken_once_whatever_its_case(env):
    first = await make_medication(env, code="PCM-650")

    assert_problem(await create(env, code="pcm-650"), 409, "MEDICATION_CODE_EXISTS")

    assert await env.count("medications") == 1
    assert (await medication(env, first["id"]))["version"] == 1


async def test_an_unknown_medication_is_404(env):
    unknown = uuid.uuid4()
    assert_problem(await env.client.get(f"{MEDICATIONS}/{unknown}", headers=env.admin), 404, "MEDICATION_NOT_FOUND")
    assert_problem(await restock(env, str(unknown), 5), 404, "MEDICATION_NOT_FOUND")
    assert_problem(await env.client.get(f"{MEDICATIONS}/not-a-uuid", headers=env.admin), 422, "VALIDATION_ERROR")


async def test_the_list_filters_by_code_and_name_and_pages_by_name(env):
    await make_medication(env, code="AMX-250", name="Amoxicillin 250 mg")
    await make_medication(env, code="AMX-500", name="Amoxicillin 500 mg")
    await make_medication(env, code="PCM-500", name="Paracetamol 500 mg")

    async def names(**params):
        response = await env.client.get(MEDICATIONS, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [m["name"] for m in response.json()["items"]], response.json()["next_cursor"]

    assert await names(q="500") == (["Amoxicillin 500 mg", "Paracetamol 500 mg"], None)
    assert await names(q="amoxi 500") == (["Amoxicillin 500 mg"], None)
    assert await names(q="100%") == ([], None)
    assert await names(code="amx-250") == (["Amoxicillin 250 mg"], None)
    first, cursor = await names(limit=2)
    assert first == ["Amoxicillin 250 mg", "Amoxicillin 500 mg"]
    assert await names(limit=2, cursor=cursor) == (["Paracetamol 500 mg"], None)


async def test_restocking_adds_to_the_stock_and_moves_the_version(env):
    med = await make_medication(env, stock=3)

    response = await restock(env, med["id"], 7)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["stock_quantity"], body["available_quantity"], body["version"]) == (10, 10, 2)
    assert response.headers["ETag"] == '"2"'
    assert await medication(env, med["id"]) == body


async def test_a_restock_with_a_stale_if_match_changes_nothing(env):
    med = await make_medication(env, stock=3)
    assert (await restock(env, med["id"], 1)).status_code == 200

    stale = await env.client.post(
        f"{MEDICATIONS}/{med['id']}/restock", json={"quantity": 5}, headers={**env.admin, "If-Match": '"1"'}
    )
    assert_problem(stale, 412, "VERSION_CONFLICT")
    current = await env.client.post(
        f"{MEDICATIONS}/{med['id']}/restock", json={"quantity": 5}, headers={**env.admin, "If-Match": '"2"'}
    )
    assert current.status_code == 200, current.text
    assert (current.json()["stock_quantity"], current.json()["version"]) == (9, 3)


@pytest.mark.parametrize("body", [{"quantity": 0}, {"quantity": -3}, {"quantity": "many"}, {}, {"quantity": 2**40}])
async def test_malformed_restocks_are_refused(env, body):
    med = await make_medication(env, stock=3)

    response = await env.client.post(f"{MEDICATIONS}/{med['id']}/restock", json=body, headers=env.admin)

    assert_problem(response, 422, "VALIDATION_ERROR")
    assert (await medication(env, med["id"]))["stock_quantity"] == 3


async def test_pharmacists_keep_the_catalogue_others_may_not(env):
    pharmacist = await env.user(["pharmacist"])
    receptionist = await env.user(["receptionist"])
    patient = await patient_user(env)
    doctor = await env.user(["doctor"])

    created = await create(env, headers=pharmacist)
    assert created.status_code == 201, created.text
    med_id = created.json()["id"]
    assert (await restock(env, med_id, 1, headers=pharmacist)).status_code == 200
    assert (await env.client.get(MEDICATIONS, headers=pharmacist)).status_code == 200
    # Doctors read the catalogue to prescribe; they do not stock it.
    assert (await env.client.get(f"{MEDICATIONS}/{med_id}", headers=doctor)).status_code == 200
    assert_problem(await create(env, headers=doctor), 403, "FORBIDDEN")

    for headers in (receptionist, patient):
        assert_problem(await create(env, headers=headers), 403, "FORBIDDEN")
        assert_problem(await env.client.get(MEDICATIONS, headers=headers), 403, "FORBIDDEN")
        assert_problem(await env.client.get(f"{MEDICATIONS}/{med_id}", headers=headers), 403, "FORBIDDEN")
        assert_problem(await restock(env, med_id, 1, headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(MEDICATIONS), 401, "UNAUTHENTICATED")
    assert (await medication(env, med_id))["stock_quantity"] == 11
    assert await env.count("medications") == 1
