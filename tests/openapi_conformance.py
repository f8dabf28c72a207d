"""A pytest plugin that holds the server to its OpenAPI document while the whole suite runs.

Every response a test receives through `httpx.ASGITransport` is matched to its operation (method and
route template); a status the document does not list for that operation fails the test, so the
document stays exact as the code changes. 500 is left to schemathesis's `not_a_server_error`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from caremesh.platform.openapi import documented_statuses


@dataclass
class Document:
    """The documented statuses and the route table, shared by every app the suite builds."""

    statuses: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    routes: list[tuple[re.Pattern[str], frozenset[str], str]] = field(default_factory=list)

    def learn(self, app: FastAPI) -> None:
        for key, statuses in documented_statuses(app.openapi()).items():
            self.statuses.setdefault(key, set()).update(statuses)
        known = {(template, methods) for _, methods, template in self.routes}
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            entry = (route.path_format, frozenset(route.methods))
            if entry not in known:
                self.routes.append((route.path_regex, entry[1], entry[0]))

    def operation(self, method: str, path: str) -> tuple[str, str] | None:
        for regex, methods, template in self.routes:
            if method in methods and regex.match(path):
                return method, template
        return None


DOCUMENT = Document()
LEARNED: set[int] = set()
UNDOCUMENTED: list[str] = []

_original = httpx.ASGITransport.handle_async_request


async def _observing(self: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
    response = await _original(self, request)
    app: Any = self.app
    if isinstance(app, FastAPI) and response.status_code != 500:
        await _check(app, request.method, request.url.path, response)
    return response


async def _check(app: FastAPI, method: str, path: str, response: httpx.Response) -> None:
    if id(app) not in LEARNED and DOCUMENT.operation(method, path) is None:
        DOCUMENT.learn(app)
        LEARNED.add(id(app))
    operation = DOCUMENT.operation(method, path)
    if operation is None or response.status_code in DOCUMENT.statuses.get(operation, set()):
        return
    await response.aread()
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    UNDOCUMENTED.append(f"UNDOCUMENTED {operation[0]} {operation[1]} {response.status_code} {code}")


@pytest.fixture(autouse=True)
def _responses_are_documented() -> Iterator[None]:
    start = len(UNDOCUMENTED)
    yield
    found = sorted(set(UNDOCUMENTED[start:]))
    if found:
        pytest.fail(
            "The server answered statuses its OpenAPI document does not list (declare them with "
            "`responses=problems(...)`, caremesh.platform.openapi):\n" + "\n".join(found),
            pytrace=False,
        )


def pytest_configure(config: pytest.Config) -> None:
    httpx.ASGITransport.handle_async_request = _observing  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    httpx.ASGITransport.handle_async_request = _original  # type: ignore[method-assign]
