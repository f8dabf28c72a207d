from __future__ import annotations

import pytest

from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, make_appointment

URL = "/api/v1/appointments"


@pytest.fixture
async def diary(env):
    """Two doctors, two patients, five appointments over two days; one cancelled."""
    ann, bob = await make_practitioner(env), await make_practitioner(env)
    p, q = await make_patient(env), await make_patient(env)
    made = {
        "p_ann_9": await make_appointment(env, patient_id=p["id"], practitioner_id=ann["id"], start=at(9)),
        "q_ann_10": await make_appointment(env, patient_id=q["id"], practitioner_id=ann["id"], start=at(10)),
        "p_bob_11": await make_appointment(env, patient_id=p["id"], practitioner_id=bob["id"], start=at(11)),
        "q_bob_8_tomorrow": await make_appointment(
            env, patient_id=q["id"], practitioner_id=bob["id"], start=at(8, days=1)
        ),
        "p_ann_12_tomorrow": await make_appointment(
            env, patient_id=p["id"], practitioner_id=ann["id"], start=at(12, days=1)
        ),
    }
    await env.client.post(f"{URL}/{made['q_ann_10']['id']}/cancel", headers=env.admin)
    return {"ann": ann, "bob": bob, "p": p, "q": q}, made


async def listed(env, **params) -> list[str]:
    response = await env.client.get(URL, params=params, headers=env.admin)
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["items"]]


async def test_list_is_ordered_by_start(env, diary):
    _, made = diary
    order = ["p_ann_9", "q_ann_10", "p_bob_11", "q_bob_8_tomorrow", "p_ann_12_tomorrow"]
    assert await listed(env) == [made[name]["id"] for name in order]


async def test_list_filters(env, diary):
    who, made = diary
    ids = {name: a["id"] for name, a in made.items()}
    assert await listed(env, patient_id=who["q"]["id"]) == [ids["q_ann_10"], ids["q_bob_8_tomorrow"]]
    assert await listed(env, practitioner_id=who["bob"]["id"]) == [ids["p_bob_11"], ids["q_bob_8_tomorrow"]]
    assert await listed(env, status="cancelled") == [ids["q_ann_10"]]
    assert await listed(env, patient_id=who["p"]["id"], practitioner_id=who["ann"]["id"], status="scheduled") == [
        ids["p_ann_9"],
        ids["p_ann_12_tomorrow"],
    ]
    # `from` is inclusive and `to` exclusive, both on the start.
    assert await listed(env, **{"from": at(10), "to": at(8, days=1)}) == [ids["q_ann_10"], ids["p_bob_11"]]
    assert await listed(env, **{"from": "2030-01-08T00:00:00"}) == [ids["q_bob_8_tomorrow"], ids["p_ann_12_tomorrow"]]


async def test_list_pages_through_everything_once(env, diary):
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await env.client.get(URL, params=params, headers=env.admin)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == await listed(env)
    assert len(seen) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"status": "postponed"},
        {"patient_id": "nobody"},
        {"from": "next week"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "not-a-cursor"},
    ],
)
async def test_bad_list_questions_are_problems(env, params):
    response = await env.client.get(URL, params=params, headers=env.admin)
    assert_problem(response, 422, "INVALID_CURSOR" if "cursor" in params else "VALIDATION_ERROR")


async def test_get_one_with_its_etag_and_an_audit_entry(env, diary):
    _, made = diary
    appointment = made["p_ann_9"]
    response = await env.client.get(f"{URL}/{appointment['id']}", headers=await env.user(["nurse"]))
    assert response.status_code == 200
    assert response.json() == appointment
    assert response.headers["ETag"] == '"1"'
    assert await env.count("audit_events", "action = 'appointment.read' AND entity_id = :id", id=appointment["id"]) == 1


async def test_lists_are_audited(env, diary):
    await listed(env)
    assert await env.count("audit_events", "action = 'appointment.list'") == 1


async def test_unknown_and_malformed_ids(env):
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(await env.client.get(f"{URL}/{missing}", headers=env.admin), 404, "APPOINTMENT_NOT_FOUND")
    assert_problem(await env.client.get(f"{URL}/APT-2030-000001", headers=env.admin), 422, "VALIDATION_ERROR")


async def test_reading_needs_a_token(env):
    assert_problem(await env.client.get(URL), 401, "UNAUTHENTICATED")
