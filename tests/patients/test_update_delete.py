"""Changing and removing patients: partial updates with optimistic locking, soft deletion, and the
patient.registered / updated / deleted events in order."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from caremesh.patients.models import Patient
from tests.builders.patients import make_patient
from tests.identity.helpers import API, assert_problem, error_locs, outbox_payloads


async def patch(env, patient_id: str, changes: dict, *, if_match: str | None = None, headers=None):
    extra = {"If-Match": if_match} if if_match else {}
    return await env.client.patch(
        f"{API}/patients/{patient_id}", json=changes, headers={**(headers or env.admin), **extra}
    )


async def delete(env, patient_id: str, headers=None, **extra_headers):
    return await env.client.delete(f"{API}/patients/{patient_id}", headers={**(headers or env.admin), **extra_headers})


async def test_patch_changes_only_the_fields_sent(env):
    patient = await make_patient(
        env, phone="+919812345678", insurance={"bin": "610279", "pcn": "P1", "member_id": "M1"}
    )
    env.clock.advance(minutes=5)

    response = await patch(env, patient["id"], {"last_name": "Iyer", "phone": "+91 99000 11122"}, if_match='"1"')

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["last_name"] == "Iyer"
    assert body["phone"] == "+919900011122"
    unchanged = {k: v for k, v in patient.items() if k not in {"last_name", "phone", "version", "updated_at"}}
    assert {k: body[k] for k in unchanged} == unchanged
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert body["updated_at"] == "2030-01-07T06:05:00Z"
    assert body["created_at"] == patient["created_at"]


async def test_patch_without_if_match_is_allowed(env):
    patient = await make_patient(env)

    assert (await patch(env, patient["id"], {"gender": "other"})).json()["gender"] == "other"


async def test_patch_with_a_stale_if_match_is_a_version_conflict(env):
    patient = await make_patient(env)
    assert (await patch(env, patient["id"], {"first_name": "Nisha"}, if_match='"1"')).status_code == 200

    response = await patch(env, patient["id"], {"first_name": "Usha"}, if_match='"1"')

    assert_problem(response, 412, "VERSION_CONFLICT")
    current = await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)
    assert current.json()["first_name"] == "Nisha"
    assert current.headers["ETag"] == '"2"'


async def test_patch_accepts_a_weak_etag(env):
    patient = await make_patient(env)

    assert (await patch(env, patient["id"], {"gender": "male"}, if_match='W/"1"')).status_code == 200


async def test_delete_with_a_stale_if_match_is_a_version_conflict(env):
    patient = await make_patient(env)
    await patch(env, patient["id"], {"gender": "male"})

    assert_problem(await delete(env, patient["id"], **{"If-Match": '"1"'}), 412, "VERSION_CONFLICT")
    assert (await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)).status_code == 200


@pytest.mark.parametrize("field", ["first_name", "last_name", "date_of_birth", "gender"])
async def test_clearing_a_required_field_is_422(env, field):
    patient = await make_patient(env)

    response = await patch(env, patient["id"], {field: None})

    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert [field] in error_locs(body)
    current = (await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)).json()
    assert current[field] == patient[field]
    assert current["version"] == 1


@pytest.mark.parametrize("field", ["phone", "email", "address", "insurance"])
async def test_null_clears_an_optional_field(env, field):
    patient = await make_patient(
        env,
        address={"line1": "1 Main St", "city": "Pune", "state": "MH", "postal_code": "411001", "country": "IN"},
        insurance={"bin": "610279", "pcn": "P1", "member_id": "M1"},
    )
    assert patient[field] is not None

    response = await patch(env, patient["id"], {field: None})

    assert response.status_code == 200, response.text
    assert response.json()[field] is None


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"first_name": ""}, ["first_name"]),
        ({"date_of_birth": "2030-01-08"}, ["date_of_birth"]),
        ({"phone": "123"}, ["phone"]),
        ({"insurance": {"bin": "12", "pcn": "P", "member_id": "M"}}, ["insurance", "bin"]),
        ({"gender": "robot"}, ["gender"]),
        ({"version": 7}, ["version"]),
        ({"id": str(uuid.uuid4())}, ["id"]),
    ],
)
async def test_invalid_patches_are_422_and_change_nothing(env, changes, loc):
    patient = await make_patient(env)
    events_before = await env.count("outbox_events")

    response = await patch(env, patient["id"], changes)

    assert loc in error_locs(assert_problem(response, 422, "VALIDATION_ERROR"))
    assert (await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)).json()["version"] == 1
    assert await env.count("outbox_events") == events_before


async def test_patch_of_an_unknown_patient_is_404(env):
    assert_problem(await patch(env, str(uuid.uuid4()), {"gender": "male"}), 404, "PATIENT_NOT_FOUND")


async def test_delete_hides_the_patient_but_keeps_the_history(env):
    patient = await make_patient(env)

    response = await delete(env, patient["id"])

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin), 404, "PATIENT_NOT_FOUND")
    assert (await env.client.get(f"{API}/patients", headers=env.admin)).json()["items"] == []
    assert_problem(await patch(env, patient["id"], {"gender": "male"}), 404, "PATIENT_NOT_FOUND")
    assert_problem(await delete(env, patient["id"]), 404, "PATIENT_NOT_FOUND")
    async with env.db.sessionmaker() as session:
        row = await session.scalar(select(Patient).where(Patient.id == uuid.UUID(patient["id"])))
    assert row is not None
    assert row.deleted_at is not None
    assert await env.count("audit_events", "entity_id = :id", id=patient["id"]) == 2  # create + delete


async def test_delete_of_an_unknown_patient_is_404(env):
    assert_problem(await delete(env, str(uuid.uuid4())), 404, "PATIENT_NOT_FOUND")


@pytest.mark.parametrize("role", ["doctor", "nurse", "pharmacist", "billing_clerk"])
async def test_only_receptionists_and_admins_delete(env, role):
    patient = await make_patient(env)

    assert_problem(await delete(env, patient["id"], headers=await env.user(roles=[role])), 403, "FORBIDDEN")
    assert (await delete(env, patient["id"], headers=await env.user(roles=["receptionist"]))).status_code == 204


async def test_nurses_update_but_doctors_do_not(env):
    patient = await make_patient(env)

    assert (
        await patch(env, patient["id"], {"gender": "male"}, headers=await env.user(roles=["nurse"]))
    ).status_code == 200
    assert_problem(
        await patch(env, patient["id"], {"gender": "other"}, headers=await env.user(roles=["doctor"])), 403, "FORBIDDEN"
    )


async def test_events_are_published_in_order_with_ids_not_clinical_data(env):
    patient = await make_patient(env)
    await patch(env, patient["id"], {"last_name": "Iyer", "phone": "+919900011122"})
    await delete(env, patient["id"])

    types = await env.outbox_types()

    assert types == ["patient.registered", "patient.updated", "patient.deleted"]
    [updated] = await outbox_payloads(env, "patient.updated")
    assert updated["patient_id"] == patient["id"]
    assert updated["changed_fields"] == ["last_name", "phone"]
    [deleted] = await outbox_payloads(env, "patient.deleted")
    assert deleted == {"patient_id": patient["id"]}
    for payload in await outbox_payloads(env, "patient.registered") + [updated]:
        assert "date_of_birth" not in payload


async def test_a_refused_update_publishes_nothing(env):
    patient = await make_patient(env)

    await patch(env, patient["id"], {"first_name": "Usha"}, if_match='"9"')

    assert await env.outbox_types() == ["patient.registered"]


async def test_concurrent_patches_with_one_etag_let_exactly_one_through(env):
    patient = await make_patient(env)
    await env.warm_pool()

    responses = await asyncio.gather(
        *(patch(env, patient["id"], {"last_name": f"Name{n}"}, if_match='"1"') for n in range(5))
    )

    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412, 412]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    current = (await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)).json()
    assert current["last_name"] == winner["last_name"]
    assert current["version"] == 2
