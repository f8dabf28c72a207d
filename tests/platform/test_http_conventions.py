"""The conventions every endpoint shares: request ids, problem+json errors, cursors and limits,
health and metrics, and logs that never carry personal data."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from caremesh.platform.settings import AppSettings
from tests import harness
from tests.builders.patients import make_patient, patient_body
from tests.harness import Env
from tests.identity.helpers import API, assert_problem, error_locs, login, outbox_payloads

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def cursor_of(values: list) -> str:
    """A cursor as a client could forge one: base64url JSON of the sort key."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# --- request ids ---------------------------------------------------------------------------------


async def test_a_given_request_id_is_echoed(env):
    response = await env.client.get(f"{API}/auth/me", headers={**env.admin, "X-Request-ID": "trace-abc.123"})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-abc.123"


async def test_a_request_id_is_generated_when_absent(env):
    first = await env.client.get(f"{API}/auth/me", headers=env.admin)
    second = await env.client.get(f"{API}/auth/me", headers=env.admin)

    assert GENERATED_ID.match(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/no-such-thing", 404),
        ("GET", f"{API}/patients", 401),
        ("POST", f"{API}/auth/login", 422),
        ("DELETE", f"{API}/audit-events", 405),
    ],
)
async def test_errors_carry_a_request_id_too(env, method, path, status):
    echoed = await env.client.request(method, path, headers={"X-Request-ID": "err-echo-1"})
    generated = await env.client.request(method, path)

    assert echoed.status_code == generated.status_code == status
    assert echoed.headers["X-Request-ID"] == "err-echo-1"
    assert GENERATED_ID.match(generated.headers["X-Request-ID"])


# --- problem+json ----------------------------------------------------------------------------------


async def test_an_unknown_route_is_a_404_problem(env):
    response = await env.client.get(f"{API}/definitely/not/here", headers=env.admin)

    assert_problem(response, 404, "NOT_FOUND")


async def test_a_wrong_method_is_a_405_problem(env):
    response = await env.client.put(f"{API}/patients", json={}, headers=env.admin)

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_is_a_400_problem_that_says_where(env):
    before = await env.count("patients")

    response = await env.client.post(
        f"{API}/patients",
        content=b'{"first_name": "Asha", ',
        headers={**env.admin, "Content-Type": "application/json"},
    )

    body = assert_problem(response, 400, "MALFORMED_JSON")
    assert "line 1 column 24" in body["detail"]
    assert await env.count("patients") == before


async def test_a_json_array_instead_of_an_object_is_a_422_problem(env):
    response = await env.client.post(f"{API}/patients", json=[patient_body()], headers=env.admin)

    assert_problem(response, 422, "VALIDATION_ERROR")


async def test_a_missing_token_is_a_401_problem_with_a_bearer_challenge(env):
    response = await env.client.get(f"{API}/patients")

    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_non_bearer_authorization_is_a_401_problem(env):
    response = await env.client.get(f"{API}/patients", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})

    assert_problem(response, 401, "UNAUTHENTICATED")


async def test_problem_type_is_a_uri_named_after_the_code(env):
    body = assert_problem(
        await env.client.get(f"{API}/patients/{uuid.uuid4()}", headers=env.admin), 404, "PATIENT_NOT_FOUND"
    )

    assert body["type"].startswith("https://")
    assert body["type"].endswith("patient-not-found")


# --- cursors and limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("!!!not-base64!!!", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"not json").decode(), id="not-json"),
        pytest.param(cursor_of({"a": 1}), id="not-a-list"),
        pytest.param(cursor_of(["2030-01-07T06:00:00+00:00"]), id="wrong-length"),
        pytest.param(cursor_of(["yesterday", "not-a-uuid"]), id="wrong-types"),
        pytest.param(cursor_of([1, 2]), id="numbers"),
        pytest.param(cursor_of(["2030-01-07T06:00:00", str(uuid.uuid4())]), id="naive-datetime"),
    ],
)
async def test_an_invalid_cursor_is_422_invalid_cursor(env, cursor):
    response = await env.client.get(f"{API}/patients", params={"cursor": cursor}, headers=env.admin)

    assert_problem(response, 422, "INVALID_CURSOR")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(cursor_of(["x", None]), id="not-an-int"),
        pytest.param(cursor_of([10**30, None]), id="out-of-range"),
        pytest.param(cursor_of([1, 2, 3]), id="wrong-length"),  # the audit cursor is [seq, position]
    ],
)
async def test_an_invalid_audit_cursor_is_422_invalid_cursor(env, cursor):
    response = await env.client.get(f"{API}/audit-events", params={"cursor": cursor}, headers=env.admin)

    assert_problem(response, 422, "INVALID_CURSOR")


async def test_a_cursor_the_api_issued_is_accepted(env):
    for _ in range(3):
        await make_patient(env)
    first = (await env.client.get(f"{API}/patients", params={"limit": 2}, headers=env.admin)).json()

    second = await env.client.get(
        f"{API}/patients", params={"limit": 2, "cursor": first["next_cursor"]}, headers=env.admin
    )

    assert second.status_code == 200, second.text
    assert len(second.json()["items"]) == 1


@pytest.mark.parametrize("limit", [0, -1, 201, 10_000, "many"])
async def test_a_limit_outside_1_to_200_is_422(env, limit):
    for path in ("/patients", "/users", "/audit-events"):
        response = await env.client.get(f"{API}{path}", params={"limit": limit}, headers=env.admin)
        assert ["query", "limit"] in error_locs(assert_problem(response, 422, "VALIDATION_ERROR"))


async def test_a_limit_of_200_is_allowed(env):
    response = await env.client.get(f"{API}/patients", params={"limit": 200}, headers=env.admin)

    assert response.status_code == 200


async def test_the_default_page_size_is_50(env):
    for _ in range(51):
        await make_patient(env)

    page = (await env.client.get(f"{API}/patients", headers=env.admin)).json()

    assert len(page["items"]) == 50
    assert page["next_cursor"]


# --- operations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", API])
async def test_liveness(env, prefix):
    response = await env.client.get(f"{prefix}/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("prefix", ["", API])
async def test_readiness_reports_its_checks(env, prefix):
    response = await env.client.get(f"{prefix}/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "ok"


async def test_readiness_fails_when_the_database_is_unreachable(env, monkeypatch):
    async def unreachable() -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(env.db, "ping", unreachable)

    response = await env.client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"].startswith("unavailable")


async def test_metrics_count_requests_by_route_and_status(env):
    await env.client.get(f"{API}/patients/{uuid.uuid4()}", headers=env.admin)

    response = await env.client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = [line for line in response.text.splitlines() if line.startswith("http_requests_total{")]
    # Labelled by the route template, never the raw path (which would carry ids and search terms).
    assert any('/patients/{patient_id}",' in line and 'status="404"' in line for line in lines), lines


async def test_metrics_label_unknown_paths_without_the_raw_url(env):
    await env.client.get(f"{API}/patients-search/Quillborough")

    text = (await env.client.get("/metrics")).text

    assert "Quillborough" not in text


async def test_openapi_and_docs_are_served(env):
    schema = await env.client.get("/openapi.json")
    docs = await env.client.get("/docs")

    assert schema.status_code == docs.status_code == 200
    assert f"{API}/patients" in schema.json()["paths"]


# --- logs ----------------------------------------------------------------------------------------


@asynccontextmanager
async def logging_env(migrated_database, tmp_path) -> AsyncIterator[Env]:
    """An app logging everything (DEBUG, JSON) to stdout. Start it inside the test body, so that its
    logger writes to the stdout `capsys` captures during the call (fixtures see another one)."""
    settings = harness.settings_for_tests(await migrated_database.fresh(tmp_path), tmp_path)
    settings.app = AppSettings(timezone="UTC", log_level="DEBUG", log_json=True)
    async with harness.running_env(settings) as env:
        yield env


async def test_logs_never_contain_personal_data(migrated_database, tmp_path, capsys):
    async with logging_env(migrated_database, tmp_path) as env:
        await exercise_personal_data(env)
        [reset] = await outbox_payloads(env, "user.password_reset_requested")

    output = capsys.readouterr().out

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(line.get("request_id") == "q-1" for line in lines), "the request logs were not captured"
    assert any(line.get("event") == "account_locked" for line in lines)
    lowered = output.lower()
    needles = [*PERSONAL_NEEDLES, STAFF_EMAIL, STAFF_PASSWORD.lower(), reset["reset_token"].lower()]
    assert [n for n in needles if n in lowered] == [], leaks(output, needles)


def leaks(output: str, needles: list[str]) -> list[str]:
    """Where each needle shows up in the output, with some context, for the failure message."""
    lowered = output.lower()
    return [output[max(0, i - 120) : i + 60] for n in needles if (i := lowered.find(n)) >= 0]


PERSON = {
    "first_name": "Zephyrine",
    "last_name": "Quillborough",
    "date_of_birth": "1971-11-23",
    "gender": "female",
    "phone": "+447700900123",
    "email": "zephyrine.q@example.net",
    "insurance": {"bin": "610279", "pcn": "ZQPCN77", "member_id": "ZQMEMBER991"},
}
PERSONAL_NEEDLES = [
    "zephyrine",
    "quillborough",
    "quill",
    "1971-11-23",
    "447700900123",
    "447700900124",
    "610279",
    "zqpcn77",
    "zqmember991",
]
STAFF_EMAIL, STAFF_PASSWORD = "quill.staff@example.net", "Quillborough-secret-pass-1"


async def exercise_personal_data(env) -> None:
    """Register, search, read, change and mis-enter a patient; create, log in, lock out and reset a user."""
    patient = await make_patient(env, **PERSON)
    await env.client.get(f"{API}/patients", params={"q": "Quillborough"}, headers={**env.admin, "X-Request-ID": "q-1"})
    await env.client.get(
        f"{API}/patients", params={"q": "zephyrine quill", "date_of_birth": "1971-11-23"}, headers=env.admin
    )
    await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)
    await env.client.patch(f"{API}/patients/{patient['id']}", json={"phone": "+447700900124"}, headers=env.admin)
    await env.client.post(f"{API}/patients", json={**PERSON, "gender": "robot"}, headers=env.admin)
    staff = {"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "full_name": "Zephyrine Quill", "roles": ["nurse"]}
    assert (await env.client.post(f"{API}/users", json=staff, headers=env.admin)).status_code == 201
    for password in (STAFF_PASSWORD, "wrong-Quillborough-1", STAFF_PASSWORD):
        await login(env.client, STAFF_EMAIL, password)
    for _ in range(5):
        await login(env.client, STAFF_EMAIL, "wrong-Quillborough-2")  # locks the account: a warning is logged
    await env.client.post(f"{API}/auth/password-reset/request", json={"email": STAFF_EMAIL})
    await env.drain()
    # Requests the database may choke on (PostgreSQL refuses NUL bytes): a server error must not log them.
    lenient = httpx.ASGITransport(app=env.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=lenient, base_url="http://test") as client:
        await client.post(f"{API}/patients", json={**PERSON, "first_name": "Zephyrine\x00"}, headers=env.admin)
        await client.get(f"{API}/patients", params={"q": "Quillborough\x00"}, headers=env.admin)
