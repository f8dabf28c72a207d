from __future__ import annotations

import asyncio

import pytest

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner, new_npi, practitioner_body
from tests.builders.scheduling import assert_problem, at, make_appointment, outbox_payloads, travel
from tests.harness import every_page

URL = "/api/v1/practitioners"
DEFAULT_HOURS = [{"weekday": day, "start": "08:00", "end": "18:00"} for day in range(5)]


async def post(env, body, headers=None):
    return await env.client.post(URL, json=body, headers=headers or env.admin)


# --- registration ----------------------------------------------------------


async def test_register_returns_the_practitioner_with_experience_and_default_hours(env):
    body = practitioner_body(npi="1234567893", practice_start_date="2015-06-01")
    response = await post(env, body)

    assert response.status_code == 201, response.text
    created = response.json()
    for field in ("first_name", "last_name", "npi", "specialty", "practice_start_date", "phone", "email"):
        assert created[field] == body[field]
    assert created["experience_years"] == 14  # 2015-06-01 to 2030-01-07
    assert created["working_hours"] == DEFAULT_HOURS
    assert created["version"] == 1
    assert created["created_at"] == created["updated_at"] == "2030-01-07T06:00:00Z"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{URL}/{created['id']}"
    assert await env.outbox_types() == ["practitioner.registered"]
    assert await env.count("audit_events", "action = 'practitioner.create' AND entity_id = :id", id=created["id"]) == 1


async def test_registered_event_carries_ids_names_and_specialty_only(env):
    created = await make_practitioner(env)
    assert await outbox_payloads(env, "practitioner.registered") == [
        {
            "practitioner_id": created["id"],
            "first_name": created["first_name"],
            "last_name": created["last_name"],
            "specialty": "cardiology",
        }
    ]


@pytest.mark.parametrize(("start", "years"), [("2020-01-07", 10), ("2020-01-08", 9), ("2030-01-07", 0)])
async def test_experience_is_whole_years_to_clinic_today(env, start, years):
    created = await make_practitioner(env, practice_start_date=start)
    assert created["experience_years"] == years


async def test_custom_working_hours_are_kept_in_order(env):
    hours = [
        {"weekday": 5, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "13:00", "end": "17:00"},
        {"weekday": 0, "start": "08:00", "end": "13:00"},
    ]
    created = await make_practitioner(env, working_hours=hours)
    assert created["working_hours"] == [hours[2], hours[1], hours[0]]


async def test_empty_working_hours_mean_not_bookable(env):
    created = await make_practitioner(env, working_hours=[])
    assert created["working_hours"] == []


@pytest.mark.parametrize(
    "npi", ["1234567890", "123456789", "12345678931", "12345678a3", "", "１２３４５６７８９３", 1234567893]
)
async def test_invalid_npi_is_refused(env, npi):
    response = await post(env, practitioner_body(npi=npi))
    if isinstance(npi, int):  # a JSON number is not a string of digits
        assert_problem(response, 422, "VALIDATION_ERROR")
    else:
        body = assert_problem(response, 422, "INVALID_NPI")
        assert body["errors"][0]["loc"] == ["npi"]
    assert await env.count("practitioners") == 0
    assert await env.outbox_types() == []


async def test_duplicate_npi_is_a_conflict(env):
    npi = new_npi()
    await make_practitioner(env, npi=npi)
    assert_problem(await post(env, practitioner_body(npi=npi)), 409, "DUPLICATE_NPI")
    assert await env.count("practitioners") == 1


async def test_a_removed_practitioners_npi_stays_taken(env):
    npi = new_npi()
    created = await make_practitioner(env, npi=npi)
    assert (await env.client.delete(f"{URL}/{created['id']}", headers=env.admin)).status_code == 204
    assert_problem(await post(env, practitioner_body(npi=npi)), 409, "DUPLICATE_NPI")


async def test_concurrent_registrations_of_one_npi_make_one_practitioner(env):
    npi = new_npi()
    responses = await asyncio.gather(*(post(env, practitioner_body(npi=npi)) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"DUPLICATE_NPI"}
    assert await env.count("practitioners") == 1


async def test_unknown_specialty_is_refused(env):
    body = assert_problem(await post(env, practitioner_body(specialty="astrology")), 422, "UNKNOWN_SPECIALTY")
    assert body["errors"][0]["loc"] == ["specialty"]
    assert await env.count("practitioners") == 0


async def test_practice_start_date_may_be_today_but_not_in_the_future(env):
    await make_practitioner(env, practice_start_date="2030-01-07")
    body = assert_problem(await post(env, practitioner_body(practice_start_date="2030-01-08")), 422, "VALIDATION_ERROR")
    assert body["errors"][0]["loc"] == ["practice_start_date"]
    assert await env.count("practitioners") == 1


@pytest.mark.parametrize(
    "hours",
    [
        [{"weekday": 0, "start": "12:00", "end": "12:00"}],
        [{"weekday": 0, "start": "18:00", "end": "08:00"}],
        [{"weekday": 0, "start": "08:00", "end": "12:00"}, {"weekday": 0, "start": "11:00", "end": "14:00"}],
        [{"weekday": 7, "start": "08:00", "end": "12:00"}],
        [{"weekday": -1, "start": "08:00", "end": "12:00"}],
        [{"weekday": 0, "start": "8:00", "end": "12:00"}],
        [{"weekday": 0, "start": "08:00", "end": "24:00"}],
        [{"weekday": 0, "start": "08:00:00", "end": "12:00"}],
        [{"weekday": 0, "start": "08:00"}],
        [{"weekday": 0, "start": "08:00", "end": "12:00", "room": "4"}],
        {"weekday": 0, "start": "08:00", "end": "12:00"},
    ],
)
async def test_malformed_working_hours_are_refused(env, hours):
    assert_problem(await post(env, practitioner_body(working_hours=hours)), 422, "VALIDATION_ERROR")
    assert await env.count("practitioners") == 0
    assert await env.count("practitioner_working_hours") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": ""},
        {"first_name": "x" * 101},
        {"last_name": None},
        {"practice_start_date": "07/01/2015"},
        {"phone": "call me"},
        {"email": "not-an-email"},
        {"specialty": None},
        {"unexpected": True},
    ],
)
async def test_bad_registration_input_is_a_problem_and_changes_nothing(env, change):
    assert_problem(await post(env, practitioner_body(**change)), 422, "VALIDATION_ERROR")
    assert await env.count("practitioners") == 0
    assert await env.count("audit_events", "action LIKE 'practitioner.%'") == 0


async def test_missing_fields_and_broken_json_are_problems(env):
    assert_problem(await post(env, {}), 422, "VALIDATION_ERROR")
    response = await env.client.post(
        URL, content=b"{not json", headers={**env.admin, "content-type": "application/json"}
    )
    assert_problem(response, 400, "MALFORMED_JSON")
    assert await env.count("practitioners") == 0


async def patient_user(env) -> dict[str, str]:
    return await env.user(["patient"], patient_id=(await make_patient(env))["id"])


@pytest.mark.parametrize("roles", [["receptionist"], ["doctor"], ["patient"]])
async def test_only_admins_register_practitioners(env, roles):
    headers = await patient_user(env) if roles == ["patient"] else await env.user(roles)
    assert_problem(await post(env, practitioner_body(), headers), 403, "FORBIDDEN")
    assert await env.count("practitioners") == 0


async def test_anonymous_callers_are_refused(env):
    assert_problem(await env.client.post(URL, json=practitioner_body()), 401, "UNAUTHENTICATED")
    assert_problem(await env.client.get(URL), 401, "UNAUTHENTICATED")
    assert_problem(await env.client.get("/api/v1/specialties"), 401, "UNAUTHENTICATED")


async def test_a_practitioner_email_on_an_intranet_domain_is_accepted(env):
    created = await make_practitioner(env, email="meera.iyer@cardiology.hospital.local")
    assert created["email"] == "meera.iyer@cardiology.hospital.local"


# --- specialties -----------------------------------------------------------


async def test_specialties_catalogue_is_seeded_and_readable_by_any_role(env):
    response = await env.client.get("/api/v1/specialties", headers=await patient_user(env))
    assert response.status_code == 200, response.text
    body = response.json()
    codes = {item["code"] for item in body["items"]}
    assert {"cardiology", "orthopedics", "general_practice", "pediatrics", "dermatology", "neurology"} <= codes
    assert all(item["name"] for item in body["items"])
    assert body["next_cursor"] is None


async def test_specialties_page_by_name(env):
    whole = (await env.client.get("/api/v1/specialties", headers=env.admin)).json()["items"]
    assert [s["name"] for s in whole] == sorted(s["name"] for s in whole)
    assert await every_page(env, "/api/v1/specialties", limit=2) == whole


# --- reads -----------------------------------------------------------------


async def test_get_returns_the_practitioner_with_an_etag(env):
    created = await make_practitioner(env)
    response = await env.client.get(f"{URL}/{created['id']}", headers=await env.user(["nurse"]))
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == '"1"'


async def test_unknown_practitioner_is_not_found(env):
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(await env.client.get(f"{URL}/{missing}", headers=env.admin), 404, "PRACTITIONER_NOT_FOUND")
    assert_problem(await env.client.get(f"{URL}/not-a-uuid", headers=env.admin), 422, "VALIDATION_ERROR")


async def test_list_filters_by_specialty_and_name(env):
    cardio = await make_practitioner(env, first_name="Anil", last_name="Kapoor", specialty="cardiology")
    derm = await make_practitioner(env, first_name="Bina", last_name="Shah", specialty="dermatology")
    await make_practitioner(env, first_name="Chitra", last_name="Kapoor", specialty="neurology")

    async def ids(**params):
        response = await env.client.get(URL, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids(specialty="dermatology") == [derm["id"]]
    assert len(await ids(q="kapoor")) == 2
    assert await ids(q="kap anil") == [cardio["id"]]
    assert await ids(q="100%") == []
    assert await ids(specialty="astrology") == []


async def test_list_pages_through_everyone_once(env):
    made = []
    for _ in range(5):
        made.append((await make_practitioner(env))["id"])
        env.clock.advance(seconds=1)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await env.client.get(URL, params=params, headers=env.admin)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made


# --- changes ---------------------------------------------------------------


async def test_patch_changes_names_contact_and_hours(env):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    hours = [{"weekday": 0, "start": "08:00", "end": "18:00"}, {"weekday": 2, "start": "10:00", "end": "14:00"}]
    change = {"first_name": "Mira", "phone": None, "email": "mira@clinic.example.org", "working_hours": hours}

    response = await env.client.patch(url, json=change, headers={**env.admin, "If-Match": '"1"'})

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["first_name"] == "Mira"
    assert updated["last_name"] == created["last_name"]
    assert updated["phone"] is None
    assert updated["email"] == "mira@clinic.example.org"
    assert updated["working_hours"] == hours
    assert updated["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert (await env.client.get(url, headers=env.admin)).json() == updated
    assert await env.count("practitioner_working_hours", "practitioner_id IS NOT NULL") == 2
    assert await env.outbox_types() == ["practitioner.registered", "practitioner.updated"]
    assert await env.count("audit_events", "action = 'practitioner.update'") == 1


async def test_patch_of_working_hours_alone_is_a_new_version(env):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    hours = [{"weekday": 0, "start": "08:00", "end": "18:00"}, {"weekday": 1, "start": "09:00", "end": "13:00"}]
    updated = (await env.client.patch(url, json={"working_hours": hours}, headers=env.admin)).json()
    assert (updated["working_hours"], updated["version"]) == (hours, 2)
    assert await env.count("practitioner_working_hours") == 2
    cleared = (await env.client.patch(url, json={"working_hours": []}, headers=env.admin)).json()
    assert (cleared["working_hours"], cleared["version"]) == ([], 3)
    assert await env.count("practitioner_working_hours") == 0


async def test_patch_with_a_stale_version_is_refused(env):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    await env.client.patch(url, json={"first_name": "One"}, headers=env.admin)
    response = await env.client.patch(url, json={"first_name": "Two"}, headers={**env.admin, "If-Match": '"1"'})
    assert_problem(response, 412, "VERSION_CONFLICT")
    assert (await env.client.get(url, headers=env.admin)).json()["first_name"] == "One"


@pytest.mark.parametrize(
    "change", [{"npi": "1234567893"}, {"specialty": "neurology"}, {"practice_start_date": "2010-01-01"}]
)
async def test_identity_fields_never_change(env, change):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    body = assert_problem(await env.client.patch(url, json=change, headers=env.admin), 422, "FIELD_NOT_EDITABLE")
    assert body["errors"][0]["loc"] == list(change)
    assert (await env.client.get(url, headers=env.admin)).json() == created


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": None},
        {"working_hours": None},
        {"working_hours": [{"weekday": 1, "start": "09:00", "end": "08:00"}]},
        {"email": "nope"},
    ],
)
async def test_bad_patch_changes_nothing(env, change):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    assert_problem(await env.client.patch(url, json=change, headers=env.admin), 422, "VALIDATION_ERROR")
    assert (await env.client.get(url, headers=env.admin)).json() == created
    assert await env.outbox_types() == ["practitioner.registered"]


async def test_patch_requires_admin(env):
    created = await make_practitioner(env)
    headers = await env.user(["receptionist"])
    response = await env.client.patch(f"{URL}/{created['id']}", json={"first_name": "X"}, headers=headers)
    assert_problem(response, 403, "FORBIDDEN")


# --- removal ---------------------------------------------------------------


async def test_delete_hides_the_practitioner(env):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    response = await env.client.delete(url, headers={**env.admin, "If-Match": '"1"'})
    assert response.status_code == 204
    assert_problem(await env.client.get(url, headers=env.admin), 404, "PRACTITIONER_NOT_FOUND")
    assert (await env.client.get(URL, headers=env.admin)).json()["items"] == []
    assert_problem(await env.client.delete(url, headers=env.admin), 404, "PRACTITIONER_NOT_FOUND")
    assert await env.count("practitioners") == 1  # soft delete
    assert (await env.outbox_types())[-1] == "practitioner.deleted"


async def test_delete_with_a_stale_version_is_refused(env):
    created = await make_practitioner(env)
    url = f"{URL}/{created['id']}"
    assert_problem(await env.client.delete(url, headers={**env.admin, "If-Match": '"7"'}), 412, "VERSION_CONFLICT")
    assert (await env.client.get(url, headers=env.admin)).status_code == 200


@pytest.mark.parametrize("then", [None, "check-in", "complete", "no-show"])
async def test_delete_with_appointments_is_a_conflict(env, then):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(8))
    if then:
        await travel(env, at(8, 5))
        response = await env.client.post(f"/api/v1/appointments/{appointment['id']}/{then}", headers=env.admin)
        assert response.status_code == 200, response.text
    response = await env.client.delete(f"{URL}/{doctor['id']}", headers=env.admin)
    assert_problem(response, 409, "PRACTITIONER_HAS_APPOINTMENTS")
    assert (await env.client.get(f"{URL}/{doctor['id']}", headers=env.admin)).status_code == 200


async def test_delete_after_all_appointments_were_cancelled(env):
    doctor = await make_practitioner(env)
    patient = await make_patient(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"])
    await env.client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=env.admin)
    assert (await env.client.delete(f"{URL}/{doctor['id']}", headers=env.admin)).status_code == 204


async def test_an_overlong_npi_is_still_an_invalid_npi(env):
    assert_problem(await post(env, practitioner_body(npi="1" * 40)), 422, "INVALID_NPI")
    assert_problem(await post(env, practitioner_body(specialty="x" * 80)), 422, "UNKNOWN_SPECIALTY")
