"""Defects found in review, each pinned by the behaviour a client sees."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from tests.builders.patients import make_patient, patient_body
from tests.harness import USER_PASSWORD, outbox_payloads


async def test_a_500_still_carries_the_request_id_and_is_problem_json(env, monkeypatch):
    from caremesh.patients import service

    async def explode(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "list_patients", explode)
    response = await env.client.get("/api/v1/patients", headers={**env.admin, "X-Request-ID": "req-500-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500-1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert "boom" not in response.text


async def test_a_nul_in_the_query_is_a_422_with_the_request_id(env):
    response = await env.client.get("/api/v1/patients?q=a%00b", headers={**env.admin, "X-Request-ID": "req-nul"})
    assert response.status_code == 422
    assert response.headers["x-request-id"] == "req-nul"
    assert response.json()["errors"][0]["loc"] == ["query"]


@pytest.mark.parametrize("request_id", ["Root=1-67891233-abcdef012345678912345678", "abc+def/ghi=="])
async def test_common_request_id_formats_are_echoed(env, request_id):
    response = await env.client.get("/health/live", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("values", [["2030-01-07T06:00:00+00:00", 5], [5, "x"], [None, []]])
async def test_forged_cursors_of_any_shape_are_invalid_cursor(env, values):
    response = await env.client.get("/api/v1/patients", params={"cursor": _cursor(values)}, headers=env.admin)
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_CURSOR"
    assert response.json()["errors"]


async def test_a_datetime_with_no_utc_form_is_a_422(env):
    response = await env.client.get(
        "/api/v1/appointments", params={"from": "0001-01-01T00:00:00+05:00"}, headers=env.admin
    )
    assert response.status_code == 422


async def test_the_docs_login_form_refuses_nul_like_the_json_login(env):
    response = await env.client.post("/api/v1/auth/token", data={"username": "a\x00@example.org", "password": "x"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("field", "value"), [("phone", "+9١٩٨١٢٣٤٥٦٧٨"), ("insurance", {"bin": "٦١٠٠١٤", "pcn": "A", "member_id": "M"})]
)
async def test_only_ascii_digits_count_as_digits(env, field, value):
    response = await env.client.post("/api/v1/patients", json=patient_body(**{field: value}), headers=env.admin)
    assert response.status_code == 422
    assert await env.count("patients") == 0


async def test_a_failed_login_does_not_change_the_users_version(env):
    created = await env.client.post(
        "/api/v1/users",
        json={"email": "typo@example.org", "password": USER_PASSWORD, "full_name": "T", "roles": ["nurse"]},
        headers=env.admin,
    )
    user = created.json()
    await env.client.post("/api/v1/auth/login", json={"email": "typo@example.org", "password": "wrong-password-1"})
    patch = await env.client.patch(
        f"/api/v1/users/{user['id']}", json={"full_name": "Typo"}, headers={**env.admin, "If-Match": '"1"'}
    )
    assert patch.status_code == 200, patch.text


async def test_guessing_the_current_password_locks_like_guessing_at_login(env):
    headers = await env.user(["nurse"])
    for _ in range(5):
        guess = await env.client.post(
            "/api/v1/auth/change-password",
            json={"current_password": "not-my-password-0", "new_password": "brand-new-password-7"},
            headers=headers,
        )
        assert guess.status_code == 422
        assert guess.json()["errors"][0]["loc"] == ["current_password"]
    right = await env.client.post(
        "/api/v1/auth/change-password",
        json={"current_password": USER_PASSWORD, "new_password": "brand-new-password-7"},
        headers=headers,
    )
    assert right.status_code == 423
    assert await env.count("audit_events", "action = 'auth.password_change_failed'") == 5


async def _reset_tokens(env, email: str) -> list[str]:
    payloads = await outbox_payloads(env, "user.password_reset_requested")
    return [p["reset_token"] for p in payloads if p["email"] == email]


async def test_using_one_reset_token_voids_the_others(env):
    await env.user(["nurse"], email="forgetful@example.org")
    for _ in range(2):
        await env.client.post("/api/v1/auth/password-reset/request", json={"email": "forgetful@example.org"})
    first, second = await _reset_tokens(env, "forgetful@example.org")
    used = await env.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": second, "new_password": "a-fresh-password-11"}
    )
    assert used.status_code == 204
    sibling = await env.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": first, "new_password": "another-password-12"}
    )
    assert sibling.status_code == 400
    assert sibling.json()["code"] == "INVALID_RESET_TOKEN"


async def test_a_slow_request_body_holds_no_lock_over_other_requests(env):
    """A client trickling its body must not stall anyone: the body is read before any transaction."""
    patient = await make_patient(env)
    release = asyncio.Event()
    chunks = [b'{"email": "x@example.org", ', b'"password": "slow-password-1"}']

    async def trickle():
        yield chunks[0]
        await release.wait()
        yield chunks[1]

    slow = asyncio.create_task(
        env.client.post("/api/v1/auth/login", content=trickle(), headers={"content-type": "application/json"})
    )
    await asyncio.sleep(0.05)
    quick = await asyncio.wait_for(env.client.get(f"/api/v1/patients/{patient['id']}", headers=env.admin), 5)
    assert quick.status_code == 200
    release.set()
    assert (await slow).status_code == 401
