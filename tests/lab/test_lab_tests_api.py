"""The lab test catalogue: create, read, filter, change with If-Match; validation, LOINC, 404, 409, 412, roles."""

from __future__ import annotations

import uuid

import pytest

from tests.builders.lab import LAB_TESTS, create_lab_test, get_json, lab_test_body, make_lab_test
from tests.harness import assert_problem


async def test_a_lab_test_is_created_with_currency_version_and_etag(env):
    response = await create_lab_test(env, code=" lt-cbc ", name="Complete blood count", loinc="718-7", price="350.5")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{LAB_TESTS}/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert {k: body[k] for k in ("code", "name", "loinc", "price", "currency", "daily_capacity", "version")} == {
        "code": "LT-CBC",
        "name": "Complete blood count",
        "loinc": "718-7",
        "price": "350.50",
        "currency": "INR",
        "daily_capacity": 5,
        "version": 1,
    }
    read = await env.client.get(f"{LAB_TESTS}/{body['id']}", headers=env.admin)
    assert read.json() == body
    assert read.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"daily_capacity": -1}, "daily_capacity"),
        ({"daily_capacity": 1.5}, "daily_capacity"),
        ({"price": "-0.01"}, "price"),
        ({"price": "10.001"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"code": "has space"}, "code"),
        ({"code": ""}, "code"),
        ({"name": " "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"loinc": "2345-1"}, "loinc"),  # wrong check digit
        ({"loinc": "ABCDE-1"}, "loinc"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_malformed_lab_tests_are_refused_and_nothing_is_written(env, overrides, field):
    body = assert_problem(await create_lab_test(env, **overrides), 422, "VALIDATION_ERROR")
    assert any(field in map(str, error["loc"]) for error in body["errors"]), body
    assert await env.count("lab_tests") == 0


async def test_a_missing_capacity_or_price_is_refused(env):
    for missing in ("daily_capacity", "price", "code", "name"):
        body = lab_test_body()
        body.pop(missing)
        assert_problem(await env.client.post(LAB_TESTS, json=body, headers=env.admin), 422, "VALIDATION_ERROR")


async def test_codes_are_unique_whatever_their_case(env):
    await make_lab_test(env, code="LT-GLU")
    assert_problem(await create_lab_test(env, code="lt-glu"), 409, "LAB_TEST_CODE_EXISTS")
    assert await env.count("lab_tests") == 1


async def test_an_unknown_lab_test_is_404(env):
    missing = f"{LAB_TESTS}/{uuid.uuid4()}"
    assert_problem(await env.client.get(missing, headers=env.admin), 404, "LAB_TEST_NOT_FOUND")
    assert_problem(await env.client.patch(missing, json={"name": "x"}, headers=env.admin), 404, "LAB_TEST_NOT_FOUND")
    assert_problem(await env.client.get(f"{LAB_TESTS}/not-a-uuid", headers=env.admin), 422, "VALIDATION_ERROR")


async def test_lists_filter_by_code_and_words_of_the_name_and_page_by_code(env):
    glucose = await make_lab_test(env, code="LT-GLU", name="Fasting glucose")
    await make_lab_test(env, code="LT-HB", name="Haemoglobin")
    lipids = await make_lab_test(env, code="LT-LIP", name="Lipid panel, fasting")

    by_code = await get_json(env, LAB_TESTS, code="lt-hb")
    assert [t["code"] for t in by_code["items"]] == ["LT-HB"]
    fasting = await get_json(env, LAB_TESTS, q="FASTING")
    assert [t["id"] for t in fasting["items"]] == [glucose["id"], lipids["id"]]
    assert (await get_json(env, LAB_TESTS, q="fasting panel"))["items"] == [lipids]
    assert (await get_json(env, LAB_TESTS, q="100%"))["items"] == []

    first = await get_json(env, LAB_TESTS, limit=2)
    second = await get_json(env, LAB_TESTS, limit=2, cursor=first["next_cursor"])
    assert [t["code"] for t in first["items"] + second["items"]] == ["LT-GLU", "LT-HB", "LT-LIP"]
    assert second["next_cursor"] is None


async def test_patch_changes_what_it_names_and_refuses_a_stale_version(env):
    test = await make_lab_test(env, loinc="718-7")
    url = f"{LAB_TESTS}/{test['id']}"
    changed = await env.client.patch(
        url, json={"price": "400", "daily_capacity": 0, "loinc": None}, headers={**env.admin, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    body = changed.json()
    assert (body["price"], body["daily_capacity"], body["loinc"], body["name"], body["version"]) == (
        "400.00",
        0,
        None,
        test["name"],
        2,
    )

    stale = await env.client.patch(url, json={"name": "Other"}, headers={**env.admin, "If-Match": '"1"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    assert_problem(await env.client.patch(url, json={"loinc": "718-8"}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.patch(url, json={"price": None}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.patch(url, json={"code": "NEW"}, headers=env.admin), 422, "VALIDATION_ERROR")
    assert (await get_json(env, url))["version"] == 2


async def test_a_lab_technician_manages_the_catalogue_and_others_may_not(env):
    technician = await env.user(["lab_technician"])
    made = await create_lab_test(env, technician)
    assert made.status_code == 201, made.text
    url = f"{LAB_TESTS}/{made.json()['id']}"
    assert (await env.client.patch(url, json={"name": "Renamed"}, headers=technician)).status_code == 200

    receptionist = await env.user(["receptionist"])
    assert_problem(await env.client.get(LAB_TESTS, headers=receptionist), 403, "FORBIDDEN")
    assert_problem(await create_lab_test(env, receptionist), 403, "FORBIDDEN")
    doctor = await env.user(["doctor"])
    assert (await env.client.get(url, headers=doctor)).status_code == 200
    assert_problem(await env.client.patch(url, json={"name": "x"}, headers=doctor), 403, "FORBIDDEN")
    assert_problem(await env.client.get(LAB_TESTS), 401, "UNAUTHENTICATED")
    assert await env.count("lab_tests") == 1
