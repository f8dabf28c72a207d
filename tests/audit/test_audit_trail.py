"""What the audit trail records: every write, every read of patient data and every login, with who,
what, which request and from where — and never the personal data itself."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from caremesh.audit.models import AuditEvent
from tests.audit.helpers import audit_events
from tests.builders.patients import make_patient, patient_body
from tests.harness import ADMIN_EMAIL, T0, USER_PASSWORD
from tests.identity.helpers import (
    API,
    all_pages,
    assert_problem,
    bearer,
    create_user,
    login,
    me,
    token_pair,
    user_body,
)

CLIENT_IP = "127.0.0.1"  # what httpx.ASGITransport reports as the client address


def rid() -> str:
    return f"req-{uuid.uuid4().hex[:12]}"


async def the_event(env, request_id: str) -> AuditEvent:
    """The single audit event the request with this X-Request-ID appended."""
    events = await audit_events(env, request_id=request_id)
    assert len(events) == 1, [e.action for e in events]
    [event] = events
    assert event.ip == CLIENT_IP
    assert event.at == T0
    return event


async def admin_id(env) -> uuid.UUID:
    return uuid.UUID((await me(env.client, env.admin)).json()["id"])


def assert_event(event: AuditEvent, action: str, entity_type: str, entity_id, actor_id) -> None:
    assert event.action == action
    assert event.entity_type == entity_type
    assert event.entity_id == (None if entity_id is None else str(entity_id))
    assert event.actor_id == (None if actor_id is None else uuid.UUID(str(actor_id)))


async def test_a_successful_login_is_recorded(env):
    user = await create_user(env)
    request_id = rid()

    response = await login(env.client, user["email"], headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    assert_event(await the_event(env, request_id), "auth.login_succeeded", "user", user["id"], user["id"])


async def test_a_failed_login_is_recorded(env):
    user = await create_user(env)
    request_id = rid()

    response = await login(env.client, user["email"], "wrong-password-11", headers={"X-Request-ID": request_id})

    assert response.status_code == 401
    assert_event(await the_event(env, request_id), "auth.login_failed", "user", user["id"], user["id"])


async def test_a_failed_login_for_an_unknown_email_is_recorded_without_the_email(env):
    request_id = rid()

    response = await login(
        env.client, "who-is-this@example.org", "whatever-pass-1", headers={"X-Request-ID": request_id}
    )

    assert response.status_code == 401
    event = await the_event(env, request_id)
    assert_event(event, "auth.login_failed", "user", None, None)
    assert "who-is-this" not in repr(vars(event))


async def test_a_login_refused_while_locked_is_recorded(env):
    user = await create_user(env)
    for _ in range(5):
        await login(env.client, user["email"], "wrong-password-11")
    request_id = rid()

    response = await login(env.client, user["email"], headers={"X-Request-ID": request_id})

    assert response.status_code == 423
    assert (await the_event(env, request_id)).entity_id == user["id"]


async def test_registering_a_patient_is_recorded(env):
    request_id = rid()

    response = await env.client.post(
        f"{API}/patients", json=patient_body(), headers={**env.admin, "X-Request-ID": request_id}
    )

    assert response.status_code == 201
    event = await the_event(env, request_id)
    assert_event(event, "patient.create", "patient", response.json()["id"], await admin_id(env))


async def test_reading_a_patient_is_recorded(env):
    patient = await make_patient(env)
    reader = await create_user(env, roles=["doctor"])
    headers = bearer((await token_pair(env.client, reader["email"]))["access_token"])
    request_id = rid()

    response = await env.client.get(f"{API}/patients/{patient['id']}", headers={**headers, "X-Request-ID": request_id})

    assert response.status_code == 200
    assert_event(await the_event(env, request_id), "patient.read", "patient", patient["id"], reader["id"])


async def test_listing_patients_is_recorded_for_each_patient_shown(env):
    shown = [await make_patient(env) for _ in range(2)]
    request_id = rid()

    response = await env.client.get(f"{API}/patients", headers={**env.admin, "X-Request-ID": request_id})

    assert response.status_code == 200
    events = await audit_events(env, request_id=request_id)
    assert [e.action for e in events] == ["patient.list", "patient.list_read", "patient.list_read"]
    assert {e.entity_id for e in events[1:]} == {p["id"] for p in shown}
    assert {e.entity_type for e in events} == {"patient"}
    assert {e.actor_id for e in events} == {await admin_id(env)}


async def test_updating_and_deleting_a_patient_are_recorded(env):
    patient = await make_patient(env)
    update_id, delete_id = rid(), rid()

    updated = await env.client.patch(
        f"{API}/patients/{patient['id']}", json={"gender": "other"}, headers={**env.admin, "X-Request-ID": update_id}
    )
    deleted = await env.client.delete(
        f"{API}/patients/{patient['id']}", headers={**env.admin, "X-Request-ID": delete_id}
    )

    assert (updated.status_code, deleted.status_code) == (200, 204)
    actor = await admin_id(env)
    assert_event(await the_event(env, update_id), "patient.update", "patient", patient["id"], actor)
    assert_event(await the_event(env, delete_id), "patient.delete", "patient", patient["id"], actor)


async def test_creating_and_changing_a_user_are_recorded(env):
    create_id, update_id = rid(), rid()

    created = await env.client.post(f"{API}/users", json=user_body(), headers={**env.admin, "X-Request-ID": create_id})
    user_id = created.json()["id"]
    changed = await env.client.patch(
        f"{API}/users/{user_id}", json={"roles": ["doctor"]}, headers={**env.admin, "X-Request-ID": update_id}
    )

    assert (created.status_code, changed.status_code) == (201, 200)
    actor = await admin_id(env)
    assert_event(await the_event(env, create_id), "user.create", "user", user_id, actor)
    assert_event(await the_event(env, update_id), "user.update", "user", user_id, actor)


@pytest.mark.parametrize(
    ("path", "body", "action"),
    [
        ("/auth/refresh", lambda pair: {"refresh_token": pair["refresh_token"]}, "auth.token_refreshed"),
        ("/auth/logout", lambda pair: None, "auth.logout"),
        (
            "/auth/change-password",
            lambda pair: {"current_password": USER_PASSWORD, "new_password": "a-fresh-password-99"},
            "auth.password_changed",
        ),
    ],
)
async def test_session_writes_are_recorded(env, path, body, action):
    user = await create_user(env)
    pair = await token_pair(env.client, user["email"])
    request_id = rid()

    response = await env.client.post(
        f"{API}{path}", json=body(pair), headers={**bearer(pair["access_token"]), "X-Request-ID": request_id}
    )

    assert response.status_code in (200, 204), response.text
    event = await the_event(env, request_id)
    assert event.action == action
    assert event.actor_id == uuid.UUID(user["id"])


async def test_a_password_reset_request_is_recorded(env):
    user = await create_user(env)
    request_id = rid()

    response = await env.client.post(
        f"{API}/auth/password-reset/request", json={"email": user["email"]}, headers={"X-Request-ID": request_id}
    )

    assert response.status_code == 202
    assert_event(await the_event(env, request_id), "auth.password_reset_requested", "user", user["id"], user["id"])


async def test_a_refused_write_leaves_no_audit_event(env):
    before = await env.count("audit_events")

    response = await env.client.post(
        f"{API}/patients", json=patient_body(gender="robot"), headers={**env.admin, "X-Request-ID": rid()}
    )

    assert response.status_code == 422
    assert await env.count("audit_events") == before


async def test_audit_events_never_hold_personal_data(env):
    secret_values = {
        "first_name": "Zephyrine",
        "last_name": "Quillborough",
        "date_of_birth": "1971-11-23",
        "phone": "+447700900123",
        "email": "zephyrine.q@example.net",
        "insurance": {"bin": "610279", "pcn": "ZQPCN77", "member_id": "ZQMEMBER991"},
    }
    patient = await make_patient(env, **secret_values)
    await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)
    await env.client.get(f"{API}/patients", params={"q": "Quillborough"}, headers=env.admin)
    await env.client.patch(f"{API}/patients/{patient['id']}", json={"last_name": "Quillborne"}, headers=env.admin)
    await create_user(env, email="zephyrine.staff@example.net")
    await login(env.client, "zephyrine.staff@example.net", "Zephyrine-wrong-password")

    events = await audit_events(env)

    assert len(events) >= 6
    stored = " ".join(str(getattr(e, c.key)) for e in events for c in AuditEvent.__table__.columns).lower()
    needles = ["zephyrine", "quillbor", "1971-11-23", "19711123", "447700900123", "610279", "zqpcn77", "zqmember991"]
    assert [n for n in needles if n in stored] == []
    assert date(1971, 11, 23).isoformat() not in stored


async def test_list_filters_by_entity(env):
    first, second = await make_patient(env), await make_patient(env)
    await env.client.get(f"{API}/patients/{first['id']}", headers=env.admin)

    page = await env.client.get(
        f"{API}/audit-events", params={"entity_type": "patient", "entity_id": first["id"]}, headers=env.admin
    )

    assert page.status_code == 200
    items = page.json()["items"]
    assert [e["action"] for e in items] == ["patient.create", "patient.read"]
    assert {e["entity_id"] for e in items} == {first["id"]}
    assert second["id"] not in page.text


async def test_list_filters_by_entity_type_alone(env):
    await make_patient(env)
    await create_user(env)

    page = await env.client.get(f"{API}/audit-events", params={"entity_type": "user"}, headers=env.admin)

    items = page.json()["items"]
    assert items
    assert {e["entity_type"] for e in items} == {"user"}


async def test_list_filters_by_actor(env):
    doctor = await create_user(env, roles=["doctor"])
    headers = bearer((await token_pair(env.client, doctor["email"]))["access_token"])
    patient = await make_patient(env)
    await env.client.get(f"{API}/patients/{patient['id']}", headers=headers)
    await env.client.get(f"{API}/patients", headers=headers)

    page = await env.client.get(f"{API}/audit-events", params={"actor_id": doctor["id"]}, headers=env.admin)

    items = page.json()["items"]
    assert [e["action"] for e in items] == ["auth.login_succeeded", "patient.read", "patient.list", "patient.list_read"]
    assert {e["actor_id"] for e in items} == {doctor["id"]}


async def test_list_items_carry_the_documented_fields(env):
    request_id = rid()
    await env.client.post(f"{API}/patients", json=patient_body(), headers={**env.admin, "X-Request-ID": request_id})
    await env.drain()  # sealed: seq, prev_hash and hash set

    items = (await env.client.get(f"{API}/audit-events", headers=env.admin)).json()["items"]

    [event] = [e for e in items if e["request_id"] == request_id]
    documented = {"id", "at", "actor_id", "action", "entity_type", "entity_id", "request_id", "ip", "prev_hash", "hash"}
    assert documented <= event.keys()
    assert event["at"] == "2030-01-07T06:00:00Z"
    assert event["ip"] == CLIENT_IP
    assert len(event["hash"]) == len(event["prev_hash"]) == 64


async def test_list_pages_with_a_cursor_without_gaps_or_duplicates(env):
    for _ in range(3):
        await make_patient(env)
    await env.drain()
    total = await env.count("audit_events")
    assert total >= 5

    items = await all_pages(env.client, f"{API}/audit-events", env.admin, limit=2)

    ids = [e["id"] for e in items]
    assert len(ids) == len(set(ids)) == total
    assert [e["seq"] for e in items] == sorted(e["seq"] for e in items)


async def test_filtered_list_pages_with_a_cursor(env):
    patient = await make_patient(env)
    for _ in range(4):
        await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)

    items = await all_pages(
        env.client, f"{API}/audit-events", env.admin, limit=2, entity_type="patient", entity_id=patient["id"]
    )

    assert [e["action"] for e in items] == ["patient.create"] + ["patient.read"] * 4
    assert len({e["id"] for e in items}) == 5


@pytest.mark.parametrize("role", ["receptionist", "doctor", "nurse", "billing_clerk", "claims_officer"])
async def test_only_admins_read_the_audit_trail(env, role):
    headers = await env.user(roles=[role])

    assert_problem(await env.client.get(f"{API}/audit-events", headers=headers), 403, "FORBIDDEN")
    assert_problem(await env.client.get(f"{API}/audit-events/verify", headers=headers), 403, "FORBIDDEN")


async def test_the_audit_trail_needs_a_token(env):
    assert_problem(await env.client.get(f"{API}/audit-events"), 401, "UNAUTHENTICATED")
    assert_problem(await env.client.get(f"{API}/audit-events/verify"), 401, "UNAUTHENTICATED")


async def test_the_bootstrap_admin_login_is_in_the_trail(env):
    admin = await admin_id(env)

    events = await audit_events(env, actor_id=admin, action="auth.login_succeeded")

    assert len(events) == 1
    assert (await me(env.client, env.admin)).json()["email"] == ADMIN_EMAIL
