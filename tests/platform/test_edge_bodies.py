"""Bad request bodies: malformed JSON (400), not JSON (415), too large (413, refused before it is read whole).
Each is refused before anything is written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, status

from caremesh.platform.api import API_PREFIX, TransactionalRoute, Uow, max_body_bytes
from tests.builders.patients import patient_body
from tests.harness import Env, assert_problem

PATIENTS = f"{API_PREFIX}/patients"
KIB = 1024
LIMIT = 4 * KIB  # a small CAREMESH_MAX_BODY_BYTES keeps the tests fast
JSON_TYPE = {"Content-Type": "application/json"}
MULTIPART = b'--x\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nAsha\r\n--x--'


def as_json(body: object) -> bytes:
    return json.dumps(body).encode()


async def patients_written(env: Env) -> int:
    return await env.count("patients")


class Feed:
    """A request body streamed in chunks, recording how many bytes the server pulled."""

    def __init__(self, total: int, chunk: int = KIB) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            piece = b" " * min(self.chunk, self.total - self.sent)
            self.sent += len(piece)
            yield piece


# --- malformed JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"first_name": "Asha",',  # cut short
        b"{first_name: 'Asha'}",  # not JSON quoting
        b'{"first_name": "Asha"} trailing',
        b'{"first_name": "\xff\xfe"}',  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # nested deeper than any parser should follow
    ],
    ids=["truncated", "single-quotes", "trailing-garbage", "not-utf8", "too-deep"],
)
async def test_malformed_json_is_a_400_and_writes_nothing(make_env, raw):
    async with make_env(http={"max_body_bytes": 1024 * KIB}) as env:
        response = await env.client.post(PATIENTS, content=raw, headers={**env.admin, **JSON_TYPE})

        body = assert_problem(response, 400, "MALFORMED_JSON")
        assert "JSON" in body["detail"]
        assert await patients_written(env) == 0


async def test_malformed_json_is_a_400_for_an_update_too(env):
    created = await env.client.post(PATIENTS, json=patient_body(first_name="Asha"), headers=env.admin)
    patient_id = created.json()["id"]

    response = await env.client.patch(
        f"{PATIENTS}/{patient_id}",
        content=b'{"first_name": ',
        headers={**env.admin, **JSON_TYPE},
    )

    assert_problem(response, 400, "MALFORMED_JSON")
    unchanged = await env.client.get(f"{PATIENTS}/{patient_id}", headers=env.admin)
    assert (unchanged.json()["first_name"], unchanged.json()["version"]) == ("Asha", created.json()["version"])


async def test_well_formed_json_that_breaks_the_schema_is_still_a_422(env):
    response = await env.client.post(PATIENTS, json={"first_name": ""}, headers=env.admin)

    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await patients_written(env) == 0


# --- not JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/x-www-form-urlencoded", b"first_name=Asha&last_name=Rao&date_of_birth=1985-04-12&gender=female"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nAsha\r\n--x--',
        ),
        ("text/plain", None),
        ("application/xml", b"<patient><first_name>Asha</first_name></patient>"),
        (None, None),  # a body without a Content-Type is not taken for JSON
    ],
    ids=["form", "multipart", "text-plain-json", "xml", "no-content-type"],
)
async def test_a_body_that_is_not_json_is_a_415_and_writes_nothing(env, content_type, raw):
    headers = {**env.admin, **({"Content-Type": content_type} if content_type else {})}
    response = await env.client.post(PATIENTS, content=raw or as_json(patient_body()), headers=headers)

    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await patients_written(env) == 0


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.caremesh+json"])
async def test_json_media_types_with_parameters_or_suffixes_are_accepted(env, content_type):
    response = await env.client.post(
        PATIENTS, content=as_json(patient_body()), headers={**env.admin, "Content-Type": content_type}
    )

    assert response.status_code == 201, response.text
    assert await patients_written(env) == 1


async def test_the_oauth2_token_endpoint_still_takes_a_form(env):
    from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD

    response = await env.client.post(
        f"{API_PREFIX}/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


async def test_a_remittance_that_is_neither_json_nor_x12_is_a_415(env):
    response = await env.client.post(
        f"{API_PREFIX}/reconciliation/process",
        content=b"<remittance/>",
        headers={**env.admin, "Content-Type": "application/xml"},
    )

    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert await env.count("remittances") == 0


async def test_a_malformed_json_remittance_is_a_400(env):
    response = await env.client.post(
        f"{API_PREFIX}/reconciliation/process",
        content=b'{"remittance_id": ',
        headers={**env.admin, **JSON_TYPE},
    )

    assert_problem(response, 400, "MALFORMED_JSON")
    assert await env.count("remittances") == 0


# --- too large ------------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_a_413_and_writes_nothing(make_env):
    async with make_env(http={"max_body_bytes": LIMIT}) as env:
        padded = patient_body(
            address={"line1": "x" * LIMIT, "city": "Pune", "state": "MH", "postal_code": "411001", "country": "IN"}
        )

        response = await env.client.post(PATIENTS, json=padded, headers=env.admin)

        body = assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
        assert str(LIMIT) in body["detail"]
        assert await patients_written(env) == 0


async def test_a_body_at_the_limit_is_accepted(make_env):
    async with make_env(http={"max_body_bytes": LIMIT}) as env:
        raw = as_json(patient_body())
        raw = raw[:-1] + b" " * (LIMIT - len(raw)) + b"}"
        assert len(raw) == LIMIT

        response = await env.client.post(PATIENTS, content=raw, headers={**env.admin, **JSON_TYPE})

        assert response.status_code == 201, response.text


async def test_a_declared_oversize_body_is_refused_before_a_byte_is_read(make_env):
    async with make_env(http={"max_body_bytes": LIMIT}) as env:
        feed = Feed(20 * 1024 * KIB)

        response = await env.client.post(
            PATIENTS,
            content=feed,
            headers={**env.admin, "Content-Type": "application/json", "Content-Length": str(feed.total)},
        )

        assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
        assert feed.sent == 0
        assert await patients_written(env) == 0


@pytest.mark.parametrize("declared", [None, "100"], ids=["chunked", "lying-content-length"])
async def test_a_streamed_body_is_refused_as_soon_as_it_crosses_the_limit(make_env, declared):
    async with make_env(http={"max_body_bytes": LIMIT}) as env:
        feed = Feed(20 * 1024 * KIB)
        length = {"Content-Length": declared} if declared else {}

        response = await env.client.post(
            PATIENTS, content=feed, headers={**env.admin, "Content-Type": "application/json", **length}
        )

        assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
        assert LIMIT < feed.sent <= LIMIT + feed.chunk  # one chunk past the limit, not 20 MiB
        assert await patients_written(env) == 0


async def test_the_default_limit_is_one_mebibyte(env):
    assert env.app.state.settings.http.max_body_bytes == 1024 * KIB
    feed = Feed(2 * 1024 * KIB, chunk=64 * KIB)

    response = await env.client.post(PATIENTS, content=feed, headers={**env.admin, **JSON_TYPE})

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert feed.sent <= 1024 * KIB + feed.chunk


async def test_the_limit_applies_to_requests_that_would_fail_authentication_too(make_env):
    async with make_env(http={"max_body_bytes": LIMIT}) as env:
        feed = Feed(20 * 1024 * KIB)

        response = await env.client.post(PATIENTS, content=feed, headers={"Content-Type": "application/json"})

        assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
        assert feed.sent <= LIMIT + feed.chunk


async def test_an_endpoint_may_declare_a_larger_limit(make_env):
    """As the attachments endpoint will (10 MiB): its own limit replaces the default, larger or smaller."""
    router = APIRouter(route_class=TransactionalRoute)

    @router.post("/edge-test/attachments", status_code=status.HTTP_201_CREATED)
    @max_body_bytes(4 * LIMIT)
    async def attach(body: dict[str, str], uow: Uow) -> dict[str, int]:
        return {"received": len(body["data"])}

    async with make_env(http={"max_body_bytes": LIMIT}) as env:
        env.app.include_router(router, prefix=API_PREFIX)
        url = f"{API_PREFIX}/edge-test/attachments"

        # Authenticated: every POST on a TransactionalRoute honours Idempotency-Key, which is per user.
        accepted = await env.client.post(url, json={"data": "x" * (2 * LIMIT)}, headers=env.admin)
        refused = await env.client.post(url, json={"data": "x" * (4 * LIMIT)}, headers=env.admin)
        elsewhere = await env.client.post(PATIENTS, json={"data": "x" * (2 * LIMIT)}, headers=env.admin)

        assert accepted.status_code == 201, accepted.text
        assert accepted.json() == {"received": 2 * LIMIT}
        assert_problem(refused, 413, "PAYLOAD_TOO_LARGE")
        assert_problem(elsewhere, 413, "PAYLOAD_TOO_LARGE")
