"""The imaging study catalogue: created by radiologists (and admins), read by clinical staff, validated."""

from __future__ import annotations

import pytest

from tests.builders.imaging import STUDIES, create_study, make_study
from tests.harness import assert_problem


async def test_a_study_is_created_read_and_listed_by_modality(env):
    study = await make_study(env, code=" ct-head ", name="CT head without contrast", modality="CT", price="4500.5")
    assert (study["code"], study["modality"], study["price"], study["currency"]) == ("CT-HEAD", "CT", "4500.50", "INR")
    await make_study(env, modality="US")

    read = await env.client.get(f"{STUDIES}/{study['id']}", headers=env.admin)
    assert read.status_code == 200
    assert read.json() == study
    listed = await env.client.get(STUDIES, params={"modality": "CT"}, headers=env.admin)
    assert [s["id"] for s in listed.json()["items"]] == [study["id"]]
    by_code = await env.client.get(STUDIES, params={"code": "ct-head"}, headers=env.admin)
    assert [s["id"] for s in by_code.json()["items"]] == [study["id"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("modality", "PET"),
        ("modality", "xr"),
        ("daily_capacity", 0),
        ("daily_capacity", -1),
        ("price", "-1.00"),
        ("price", "10.001"),
        ("code", "bad code!"),
        ("name", ""),
    ],
)
async def test_a_malformed_study_is_refused_and_nothing_is_created(env, field, value):
    assert_problem(await create_study(env, **{field: value}), 422, "VALIDATION_ERROR")
    assert (await env.client.get(STUDIES, headers=env.admin)).json()["items"] == []


async def test_a_code_in_use_is_refused(env):
    await make_study(env, code="MR-KNEE")
    assert_problem(await create_study(env, code="mr-knee"), 409, "IMAGING_STUDY_CODE_EXISTS")


async def test_unknown_study_is_404(env):
    missing = await env.client.get(f"{STUDIES}/00000000-0000-4000-8000-000000000000", headers=env.admin)
    assert_problem(missing, 404, "IMAGING_STUDY_NOT_FOUND")


async def test_a_radiologist_manages_the_catalogue_and_a_receptionist_may_not(env):
    radiologist, receptionist, doctor = [await env.user([r]) for r in ("radiologist", "receptionist", "doctor")]
    assert (await create_study(env, headers=radiologist)).status_code == 201
    assert_problem(await create_study(env, headers=receptionist), 403, "FORBIDDEN")
    assert_problem(await create_study(env, headers=doctor), 403, "FORBIDDEN")
    assert (await env.client.get(STUDIES, headers=doctor)).status_code == 200
    assert_problem(await env.client.get(STUDIES, headers=receptionist), 403, "FORBIDDEN")
