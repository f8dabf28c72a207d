"""Every route of the API refuses a caller without a valid token, except the few that must not."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from caremesh.app import create_app
from caremesh.platform.settings import DatabaseSettings
from tests.harness import settings_for_tests

PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/password-reset/request"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/verify-email"),
}
OPERATIONS = re.compile(r"^(/api/v1)?/(health/live|health/ready|metrics)$")
SAMPLE_ID = "00000000-0000-4000-8000-000000000000"


def api_routes() -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI document publishes."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for_tests(DatabaseSettings(database_url="sqlite+aiosqlite://"), Path(tmp))
        paths = create_app(settings).openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if not OPERATIONS.match(path)
        for method in operations
    )


ROUTES = api_routes()


def test_the_route_table_is_not_empty():
    assert len(ROUTES) > 30


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r not in PUBLIC])
async def test_protected_without_a_token(env, method, path):
    url = re.sub(r"\{[a-z_]+\}", SAMPLE_ID, path)
    response = await env.client.request(method, url, json={})
    assert response.status_code == 401, (method, url, response.text)
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r not in PUBLIC])
async def test_protected_against_a_forged_token(env, method, path):
    url = re.sub(r"\{[a-z_]+\}", SAMPLE_ID, path)
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    response = await env.client.request(method, url, json={}, headers=forged)
    assert response.status_code == 401, (method, url, response.text)
