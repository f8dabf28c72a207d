"""patients.contract.register_patient: another context (identity, confirming a self-registration) registers a
patient in its own transaction, with the checks, audit and event of POST /patients."""

from __future__ import annotations

from datetime import date

import pytest

from caremesh.patients import contract as patients
from caremesh.platform.errors import Unprocessable
from tests.harness import outbox_payloads


async def test_a_patient_registered_through_the_contract_is_a_patient_like_any_other(env):
    async with env.uow() as uow:
        patient_id = await patients.register_patient(
            uow, first_name=" Nila ", last_name="Menon", date_of_birth=date(1985, 11, 30), email="nila@example.org"
        )

    record = (await env.client.get(f"/api/v1/patients/{patient_id}", headers=env.admin)).json()
    assert (record["first_name"], record["gender"], record["email"], record["age"]) == (
        "Nila",
        "unknown",
        "nila@example.org",
        44,
    )
    [event] = await outbox_payloads(env, "patient.registered")
    assert event["patient_id"] == str(patient_id)
    assert await env.count("audit_events", "action = 'patient.create'") == 1


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"date_of_birth": date(2999, 1, 1)}, "date_of_birth"),
        ({"first_name": ""}, "first_name"),
        ({"email": "not-an-address"}, "email"),
    ],
)
async def test_what_post_patients_refuses_the_contract_refuses_and_nothing_is_written(env, fields, loc):
    given = {"first_name": "Nila", "last_name": "Menon", "date_of_birth": date(1985, 11, 30), "email": "n@example.org"}

    with pytest.raises(Unprocessable) as refused:
        async with env.uow() as uow:
            await patients.register_patient(uow, **{**given, **fields})

    assert refused.value.extra["errors"][0]["loc"] == [loc]
    assert await env.count("patients") == 0
