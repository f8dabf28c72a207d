"""Every POST honours Idempotency-Key, except the routes that issue or revoke credentials: walked over the
app's routes, so a new route cannot forget it."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from caremesh.app import create_app
from caremesh.platform.api import NoIdempotencyKey, TransactionalRoute
from caremesh.platform.settings import DatabaseSettings
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, assert_problem, settings_for_tests

# Tokens and passwords are never kept in a replay table.
CREDENTIALS = {
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/change-password",
    "/api/v1/auth/password-reset/request",
    "/api/v1/auth/password-reset/confirm",
    "/api/v1/auth/register",
    "/api/v1/auth/verify-email",
}
SAMPLE_ID = "00000000-0000-4000-8000-000000000000"


def _app() -> FastAPI:
    with tempfile.TemporaryDirectory() as tmp:
        return create_app(settings_for_tests(DatabaseSettings(database_url="sqlite+aiosqlite://"), Path(tmp)))


APP = _app()
POSTS = sorted(
    context.path
    for context in iter_route_contexts(APP.routes)
    if isinstance(context.original_route, APIRoute)
    and "POST" in (context.methods or ())
    and not context.path.startswith("/fhir/")  # read-only: FHIR's catch-all answers any write with 405
)
KEYED = [path for path in POSTS if path not in CREDENTIALS]


def test_the_walk_finds_every_post():
    assert set(POSTS) >= CREDENTIALS
    assert len(KEYED) > 35
    assert {"/api/v1/orders", "/api/v1/patients", "/api/v1/payments", "/api/v1/reconciliation/process"} <= set(KEYED)


@pytest.mark.parametrize("path", KEYED)
def test_the_header_is_documented(path):
    operation = APP.openapi()["paths"][path]["post"]
    headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
    assert "Idempotency-Key" in headers, path
    assert "400" in operation["responses"]


@pytest.mark.parametrize("path", sorted(CREDENTIALS & set(APP.openapi()["paths"])))
def test_credential_routes_do_not_document_it(path):
    operation = APP.openapi()["paths"][path]["post"]
    assert "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}


@pytest.mark.parametrize("path", KEYED)
async def test_every_post_checks_the_key_and_a_failure_keeps_it_free(env, path):
    url = re.sub(r"\{[a-z_]+\}", SAMPLE_ID, path)

    invalid = await env.client.post(url, json={}, headers={**env.admin, "Idempotency-Key": "tab\tkey"})
    refused = await env.client.post(url, json={"unknown": 1}, headers={**env.admin, "Idempotency-Key": "k-1"})

    assert_problem(invalid, 400, "IDEMPOTENCY_KEY_INVALID")
    assert 400 <= refused.status_code < 500, refused.text
    assert "Idempotent-Replayed" not in refused.headers
    assert await env.count("idempotency_keys") == 0


async def test_a_login_with_a_key_is_not_replayed(env):
    body = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    first = await env.client.post("/api/v1/auth/login", json=body, headers={"Idempotency-Key": "login-1"})
    again = await env.client.post("/api/v1/auth/login", json=body, headers={"Idempotency-Key": "login-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["refresh_token"] != again.json()["refresh_token"]
    assert "Idempotent-Replayed" not in again.headers
    assert await env.count("idempotency_keys") == 0


def test_an_endpoint_may_opt_out_with_a_parameter():
    router = APIRouter(route_class=TransactionalRoute)

    @router.post("/kept", status_code=201)
    async def kept() -> dict[str, str]:
        return {}

    @router.post("/not-kept", status_code=201)
    async def not_kept(_: NoIdempotencyKey) -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    paths = app.openapi()["paths"]
    documented = {path: [p["name"] for p in paths[path]["post"].get("parameters", [])] for path in paths}
    assert "Idempotency-Key" in documented["/kept"]
    assert "Idempotency-Key" not in documented["/not-kept"]
