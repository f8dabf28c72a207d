"""Small helpers for acting as a client of the identity API (and asserting problem+json answers)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.harness import PROBLEM_JSON, USER_PASSWORD, assert_problem, outbox_payloads

__all__ = ["PROBLEM_JSON", "assert_problem", "outbox_payloads"]  # shared with the other suites

API = "/api/v1"


def error_locs(body: dict[str, Any]) -> list[list[Any]]:
    """The `loc` of every entry of a 422 problem's `errors`."""
    assert isinstance(body.get("errors"), list), body
    assert all({"loc", "msg"} <= e.keys() for e in body["errors"]), body["errors"]
    return [e["loc"] for e in body["errors"]]


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


async def login(client: httpx.AsyncClient, email: str, password: str = USER_PASSWORD, **kwargs: Any) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password}, **kwargs)


async def token_pair(client: httpx.AsyncClient, email: str, password: str = USER_PASSWORD) -> dict[str, Any]:
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get(f"{API}/auth/me", headers=headers)


def user_body(
    *, email: str | None = None, roles: list[str] | None = None, password: str = USER_PASSWORD, **extra: Any
) -> dict[str, Any]:
    return {
        "email": email or new_email(),
        "password": password,
        "full_name": "Test User",
        "roles": ["receptionist"] if roles is None else roles,
        **extra,
    }


async def create_user(env: Any, **overrides: Any) -> dict[str, Any]:
    """A user created by the admin; returns the UserRead body."""
    response = await env.client.post(f"{API}/users", json=user_body(**overrides), headers=env.admin)
    assert response.status_code == 201, response.text
    return response.json()


async def patch_user(env: Any, user_id: str, changes: dict[str, Any], headers: dict[str, str] | None = None):
    """PATCH a user with the If-Match of its current version."""
    headers = headers or env.admin
    current = await env.client.get(f"{API}/users/{user_id}", headers=headers)
    assert current.status_code == 200, current.text
    return await env.client.patch(
        f"{API}/users/{user_id}", json=changes, headers={**headers, "If-Match": current.headers["ETag"]}
    )


async def all_pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], *, limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Follow `next_cursor` from the first page to the last; every page must succeed and respect `limit`."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")
