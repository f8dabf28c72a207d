"""Schemathesis over the whole OpenAPI document, in process, against a seeded app on SQLite.

`make test-api-schema` runs it (CAREMESH_SCHEMATHESIS=1): every operation gets generated valid and
invalid requests with an admin token, and every answer must be no server error, of a documented
status, and match the documented schema. Derandomized, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from caremesh import demo
from caremesh.app import create_app
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings, Settings
from tests.harness import settings_for_tests

ENABLED = bool(os.environ.get("CAREMESH_SCHEMATHESIS"))
pytestmark = pytest.mark.skipif(not ENABLED, reason="`make test-api-schema` runs schemathesis")
MAX_EXAMPLES = int(os.environ.get("CAREMESH_SCHEMATHESIS_EXAMPLES", "30"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
CREDENTIALS = demo.DemoCredentials(passwords={role: f"{role}-schemathesis-pass-7" for role in demo.ROLES})


async def _seed_and_login(settings: Settings) -> str:
    """Migrates, seeds the demo data through the API, and returns an admin access token."""
    await upgrade(settings.db)
    assert await demo.seed(settings, CREDENTIALS)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://seed") as client:
            body = {"email": CREDENTIALS.email("admin"), "password": CREDENTIALS.passwords["admin"]}
            response = await client.post("/api/v1/auth/login", json=body)
            assert response.status_code == 200, response.text
            return response.json()["access_token"]


def _load() -> tuple[Any, dict[str, str]]:
    """The seeded app's schema and an admin's headers. Loaded at collection: schemathesis's lazy
    `from_fixture` does not run on pytest 9."""
    tmp = Path(tempfile.mkdtemp(prefix="caremesh-schemathesis-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    db = DatabaseSettings(database_url=f"sqlite+aiosqlite:///{tmp / 'caremesh.db'}")
    settings = settings_for_tests(
        db, tmp, admin_email=CREDENTIALS.email("admin"), admin_password=CREDENTIALS.passwords["admin"]
    )
    token = asyncio.run(_seed_and_login(settings))
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings)), {"Authorization": f"Bearer {token}"}


if ENABLED:
    schema, ADMIN = _load()

    @schema.parametrize()
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def test_every_operation_answers_as_documented(case: Any) -> None:
        case.call_and_validate(headers=ADMIN, checks=CHECKS)

else:

    def test_every_operation_answers_as_documented() -> None:
        """Skipped (pytestmark) unless CAREMESH_SCHEMATHESIS is set."""
