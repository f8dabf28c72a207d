"""Registering a patient: the response shape, every validation rule of the contract, and that a refused
request writes nothing (no row, no audit event, no outbox event)."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import pytest

from tests.builders.patients import make_patient, patient_body
from tests.identity.helpers import API, assert_problem, error_locs

ADDRESS = {
    "line1": "12 MG Road",
    "line2": "Flat 4",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postal_code": "560001",
    "country": "IN",
}
INSURANCE = {"bin": "610279", "pcn": "ABC123", "member_id": "M-000123"}


async def register(env, headers=None, **overrides):
    return await env.client.post(f"{API}/patients", json=patient_body(**overrides), headers=headers or env.admin)


@asynccontextmanager
async def nothing_written(env):
    """The block's requests leave patients, the audit trail and the outbox as they were."""
    tables = ("patients", "audit_events", "outbox_events")
    before = [await env.count(t) for t in tables]
    yield
    assert [await env.count(t) for t in tables] == before


async def test_register_returns_the_patient_with_age_version_and_etag(env):
    response = await register(
        env, first_name="Asha", last_name="Rao", address=ADDRESS, insurance=INSURANCE, email="asha.rao@example.org"
    )

    assert response.status_code == 201, response.text
    body = response.json()
    uuid.UUID(body["id"])
    assert body["first_name"] == "Asha"
    assert body["last_name"] == "Rao"
    assert body["date_of_birth"] == "1985-04-12"
    assert body["gender"] == "female"
    assert body["phone"] == "+919812345678"
    assert body["email"] == "asha.rao@example.org"
    assert body["address"] == ADDRESS
    assert body["insurance"] == INSURANCE
    assert body["age"] == 44  # on 2030-01-07
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"] == "2030-01-07T06:00:00Z"
    assert response.headers["ETag"] == '"1"'
    fetched = await env.client.get(f"{API}/patients/{body['id']}", headers=env.admin)
    assert fetched.json() == body


async def test_an_email_on_an_intranet_domain_is_accepted(env):
    # Staff treated as patients give their hospital address; the clinic's own mail relay delivers it.
    response = await register(env, email="asha.rao@ward.hospital.local")
    assert response.status_code == 201, response.text
    assert response.json()["email"] == "asha.rao@ward.hospital.local"


async def test_optional_fields_may_be_left_out(env):
    body = {"first_name": "Ravi", "last_name": "Kumar", "date_of_birth": "2000-02-29", "gender": "unknown"}

    response = await env.client.post(f"{API}/patients", json=body, headers=env.admin)

    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["phone"], created["email"], created["address"], created["insurance"]) == (None, None, None, None)


@pytest.mark.parametrize(
    ("born", "age"),
    [("2030-01-07", 0), ("2029-01-08", 0), ("2029-01-07", 1), ("1930-01-08", 99), ("2000-02-29", 29)],
)
async def test_age_is_whole_years_on_the_clinic_date(env, born, age):
    assert (await make_patient(env, date_of_birth=born))["age"] == age


async def test_registration_publishes_patient_registered(env):
    patient = await make_patient(env)

    assert await env.outbox_types() == ["patient.registered"]
    assert patient["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "A" * 100),
        ("last_name", "B"),
        ("phone", "+1 (415) 555-0100"),
        ("phone", "9812345678"),
        ("gender", "other"),
        ("gender", "unknown"),
        ("gender", "male"),
        ("insurance", {"bin": "000000", "pcn": "A", "member_id": "X"}),
        ("insurance", {"bin": "123456", "pcn": "ABCDE12345", "member_id": "M" * 20}),
    ],
)
async def test_boundary_values_are_accepted(env, field, value):
    response = await register(env, **{field: value})

    assert response.status_code == 201, response.text


async def test_phone_separators_are_normalised_away(env):
    assert (await make_patient(env, phone="+91 98123-45678"))["phone"] == "+919812345678"


async def test_names_are_trimmed(env):
    patient = await make_patient(env, first_name="  Asha ", last_name=" Rao  ")

    assert (patient["first_name"], patient["last_name"]) == ("Asha", "Rao")


INVALID = [
    pytest.param({"first_name": ""}, ["first_name"], id="first-name-empty"),
    pytest.param({"first_name": "   "}, ["first_name"], id="first-name-blank"),
    pytest.param({"first_name": "A" * 101}, ["first_name"], id="first-name-101"),
    pytest.param({"last_name": ""}, ["last_name"], id="last-name-empty"),
    pytest.param({"last_name": "B" * 101}, ["last_name"], id="last-name-101"),
    pytest.param({"first_name": None}, ["first_name"], id="first-name-null"),
    pytest.param({"date_of_birth": "2030-01-08"}, ["date_of_birth"], id="dob-tomorrow"),
    pytest.param({"date_of_birth": "2099-12-31"}, ["date_of_birth"], id="dob-far-future"),
    pytest.param({"date_of_birth": "12/04/1985"}, ["date_of_birth"], id="dob-not-iso"),
    pytest.param({"date_of_birth": "1985-02-30"}, ["date_of_birth"], id="dob-impossible"),
    pytest.param({"gender": "robot"}, ["gender"], id="gender-unknown-value"),
    pytest.param({"gender": "Female"}, ["gender"], id="gender-wrong-case"),
    pytest.param({"phone": "12345"}, ["phone"], id="phone-too-short"),
    pytest.param({"phone": "+1234567890123456"}, ["phone"], id="phone-too-long"),
    pytest.param({"phone": "+0812345678"}, ["phone"], id="phone-leading-zero"),
    pytest.param({"phone": "call me maybe"}, ["phone"], id="phone-letters"),
    pytest.param({"email": "not-an-email"}, ["email"], id="email"),
    pytest.param({"email": "asha@ward.invalid"}, ["email"], id="email-special-use"),
    pytest.param({"insurance": {**INSURANCE, "bin": "12345"}}, ["insurance", "bin"], id="bin-5-digits"),
    pytest.param({"insurance": {**INSURANCE, "bin": "1234567"}}, ["insurance", "bin"], id="bin-7-digits"),
    pytest.param({"insurance": {**INSURANCE, "bin": "12a456"}}, ["insurance", "bin"], id="bin-letter"),
    pytest.param({"insurance": {**INSURANCE, "bin": "123456\n"}}, ["insurance", "bin"], id="bin-newline"),
    pytest.param({"insurance": {**INSURANCE, "pcn": ""}}, ["insurance", "pcn"], id="pcn-empty"),
    pytest.param({"insurance": {**INSURANCE, "pcn": "A" * 11}}, ["insurance", "pcn"], id="pcn-11"),
    pytest.param({"insurance": {**INSURANCE, "pcn": "AB-12"}}, ["insurance", "pcn"], id="pcn-symbol"),
    pytest.param({"insurance": {**INSURANCE, "member_id": ""}}, ["insurance", "member_id"], id="member-id-empty"),
    pytest.param({"insurance": {**INSURANCE, "member_id": "M" * 21}}, ["insurance", "member_id"], id="member-id-21"),
    pytest.param({"insurance": {"bin": "123456"}}, ["insurance", "pcn"], id="insurance-incomplete"),
    pytest.param({"address": {**ADDRESS, "city": ""}}, ["address", "city"], id="address-city-empty"),
    pytest.param({"address": {"line1": "x"}}, ["address", "city"], id="address-incomplete"),
    pytest.param({"first_name": "Asha\x00"}, ["first_name"], id="first-name-nul-byte"),
    pytest.param({"last_name": "R\x00o"}, ["last_name"], id="last-name-nul-byte"),
    pytest.param({"blood_group": "O+"}, ["blood_group"], id="unknown-field"),
    pytest.param({"insurance": {**INSURANCE, "group": "G1"}}, ["insurance", "group"], id="unknown-nested-field"),
]


@pytest.mark.parametrize(("overrides", "loc"), INVALID)
async def test_invalid_registrations_are_422_and_write_nothing(env, overrides, loc):
    async with nothing_written(env):
        response = await register(env, **overrides)

    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert loc in error_locs(body), body["errors"]


@pytest.mark.parametrize("missing", ["first_name", "last_name", "date_of_birth", "gender"])
async def test_required_fields_are_required(env, missing):
    body = patient_body()
    del body[missing]

    async with nothing_written(env):
        response = await env.client.post(f"{API}/patients", json=body, headers=env.admin)

    assert [missing] in error_locs(assert_problem(response, 422, "VALIDATION_ERROR"))


async def test_several_problems_are_reported_together(env):
    async with nothing_written(env):
        response = await register(env, first_name="", gender="robot", phone="1")

    locs = error_locs(assert_problem(response, 422, "VALIDATION_ERROR"))
    assert {"first_name", "gender", "phone"} <= {loc[0] for loc in locs}


@pytest.mark.parametrize("role", ["receptionist", "nurse"])
async def test_front_desk_staff_may_register(env, role):
    assert (await register(env, headers=await env.user(roles=[role]))).status_code == 201


@pytest.mark.parametrize("role", ["doctor", "pharmacist", "lab_technician", "billing_clerk", "claims_officer"])
async def test_other_staff_may_not_register(env, role):
    headers = await env.user(roles=[role])

    async with nothing_written(env):
        response = await register(env, headers=headers)

    assert_problem(response, 403, "FORBIDDEN")


async def test_registration_needs_a_token(env):
    async with nothing_written(env):
        response = await env.client.post(f"{API}/patients", json=patient_body())

    assert_problem(response, 401, "UNAUTHENTICATED")
