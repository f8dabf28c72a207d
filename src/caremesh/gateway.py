"""The edge of the distributed mode: an nginx configuration, generated from the registry of contexts, that
routes each `/api/v1` path (and everything under `/fhir/R4`) to the processes serving its context (balancing over
replicas), limits body size and request rate, and answers its own errors as problem+json. `caremesh gateway` writes it.

Run it with `nginx -p DIR -c FILE`: every path the configuration uses (pid, logs, temporary files) is
relative to DIR.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from caremesh.contexts import CONTEXTS
from caremesh.contexts import select as select_contexts
from caremesh.platform.api import API_PREFIX

_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")


class GatewayProblem(ValueError):
    pass


@dataclass(frozen=True)
class Route:
    """`contexts` are served by the process at `address`; several routes naming a context are its replicas."""

    contexts: tuple[str, ...]
    address: str

    @classmethod
    def parse(cls, text: str) -> Route:
        names, sep, address = text.partition("=")
        if not sep or not names.strip() or not address.strip():
            raise GatewayProblem(f"a route is CONTEXT[,CONTEXT...]=HOST:PORT, not {text!r}")
        address = address.strip()
        if not _ADDRESS.match(address):
            raise GatewayProblem(f"{address!r} is not HOST:PORT")
        try:
            contexts = select_contexts(names)
        except ValueError as error:
            raise GatewayProblem(str(error)) from None
        return cls(contexts, address)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1024 * 1024
    requests_per_second: int = 100  # per client address, across the API
    burst: int = 200


def context_paths() -> dict[str, list[str]]:
    """Every `/api/v1` path template of each context, read from its router."""
    found: dict[str, list[str]] = {}
    for name in CONTEXTS:
        api = importlib.import_module(f"caremesh.{name}.api")
        if getattr(api, "PREFIX", API_PREFIX) != API_PREFIX:
            continue  # mounted elsewhere (see `own_prefixes`)
        app = FastAPI()
        app.include_router(api.router, prefix=API_PREFIX)
        found[name] = sorted(app.openapi()["paths"])
    return found


def own_prefixes() -> list[tuple[str, str]]:
    """(prefix, context) of each context whose api module mounts its router outside /api/v1 (its `PREFIX`, e.g.
    FHIR's /fhir/R4): everything under that prefix goes to it."""
    found = []
    for name in CONTEXTS:
        prefix = getattr(importlib.import_module(f"caremesh.{name}.api"), "PREFIX", API_PREFIX)
        if prefix != API_PREFIX:
            found.append((prefix.rstrip("/") + "/", name))
    return found


def larger_bodies() -> list[tuple[str, str, int]]:
    """(path template, context, bytes) of every operation that takes bodies over the common limit (attachments),
    read from the `max_body_bytes` mark of its endpoint."""
    found: list[tuple[str, str, int]] = []
    for name in CONTEXTS:
        for path, route in _operations(importlib.import_module(f"caremesh.{name}.api").router, API_PREFIX):
            if (limit := getattr(route.endpoint, "max_body_bytes", None)) is not None:
                found.append((path, name, limit))
    return sorted(found)


def _operations(router: APIRouter, prefix: str) -> Iterator[tuple[str, APIRoute]]:
    """Every operation of `router` with its full path, also those of routers it includes (FastAPI keeps an
    included router as one entry that knows its prefix)."""
    for route in router.routes:
        if (included := getattr(route, "include_context", None)) is not None:
            yield from _operations(included.included_router, prefix + included.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def locations(paths: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(nginx location, context): a prefix location per first path segment that one context owns alone; where
    contexts share a segment, a regular expression per path template, literal segments before parameters."""
    owners: dict[str, set[str]] = {}
    for context, templates in paths.items():
        for template in templates:
            owners.setdefault(_segment(template), set()).add(context)
    found: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    for context, templates in paths.items():
        for segment in sorted({_segment(t) for t in templates}):
            if len(owners[segment]) == 1:
                found.append((f"{API_PREFIX}/{segment}", context))
        shared.extend((t, context) for t in templates if len(owners[_segment(t)]) > 1)
    shared.sort(key=lambda item: [part.startswith("{") for part in item[0].split("/")])
    regexes = [(f"~ ^{_regex(template)}$", context) for template, context in shared]
    return regexes + sorted(found)


def _segment(template: str) -> str:
    return template.removeprefix(API_PREFIX + "/").split("/")[0]


def _regex(template: str) -> str:
    return "/".join("[^/]+" if part.startswith("{") else re.escape(part) for part in template.split("/"))


def _problem(status: int, code: str, title: str, detail: str) -> str:
    body = {"type": f"https://caremesh.dev/problems/{code.lower().replace('_', '-')}", "title": title}
    body |= {"status": status, "detail": detail, "code": code}
    return json.dumps(body).replace("'", "\\'")


_ERRORS = {
    413: ("PAYLOAD_TOO_LARGE", "Payload too large", "The request body is over the limit."),
    429: ("RATE_LIMITED", "Too many requests", "Too many requests from this address; retry shortly."),
    502: ("SERVICE_UNAVAILABLE", "Service unavailable", "No process serving this part of the API answered."),
    503: ("SERVICE_UNAVAILABLE", "Service unavailable", "No process serving this part of the API answered."),
    504: ("SERVICE_UNAVAILABLE", "Service unavailable", "The process serving this request did not answer in time."),
}


def render(listen: str, routes: Sequence[Route], limits: Limits = Limits()) -> str:
    """A complete nginx configuration (see the module docstring)."""
    if not _ADDRESS.match(listen):
        raise GatewayProblem(f"--listen {listen!r} is not HOST:PORT")
    if not routes:
        raise GatewayProblem("name at least one --route")
    servers: dict[str, list[str]] = {name: [] for name in CONTEXTS}
    for route in routes:
        for name in route.contexts:
            if route.address not in servers[name]:
                servers[name].append(route.address)
    missing = [name for name, addresses in servers.items() if not addresses]
    if missing:
        raise GatewayProblem(f"no route serves: {', '.join(missing)}")
    lines = [
        "# Generated by `caremesh gateway`; run with `nginx -p DIR -c THIS_FILE`.",
        "worker_processes auto;",
        "pid nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 1024; }",
        "http {",
        "  access_log off;",
        "  client_body_temp_path client_body_temp;",
        "  proxy_temp_path proxy_temp;",
        "  fastcgi_temp_path fastcgi_temp;",
        "  uwsgi_temp_path uwsgi_temp;",
        "  scgi_temp_path scgi_temp;",
        f"  client_max_body_size {limits.max_body_bytes};",
        f"  limit_req_zone $binary_remote_addr zone=api:10m rate={limits.requests_per_second}r/s;",
        "  limit_req_status 429;",
        "  map $http_x_request_id $caremesh_request_id { default $http_x_request_id; '' $request_id; }",
    ]
    for name in CONTEXTS:
        lines.append(f"  upstream {name} {{")
        lines.extend(f"    server {address} max_fails=1 fail_timeout=5s;" for address in servers[name])
        lines.append("    keepalive 16;")
        lines.append("  }")
    lines += [
        "  server {",
        f"    listen {listen};",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Request-ID $caremesh_request_id;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_next_upstream error timeout http_502 http_503;",
        "    proxy_connect_timeout 2s;",
        "    proxy_intercept_errors off;",
    ]
    for status in sorted(_ERRORS):
        lines.append(f"    error_page {status} = @problem_{status};")
    for template, name, limit in larger_bodies():  # regular expressions: checked before the prefixes below
        lines += [
            f"    location ~ ^{_regex(template)}$ {{",
            f"      client_max_body_size {max(limit, limits.max_body_bytes)};",
            f"      limit_req zone=api burst={limits.burst} nodelay;",
            f"      proxy_pass http://{name};",
            "    }",
        ]
    for location, name in [*locations(context_paths()), *own_prefixes()]:
        lines += [
            f"    location {location} {{",
            f"      limit_req zone=api burst={limits.burst} nodelay;",
            f"      proxy_pass http://{name};",
            "    }",
        ]
    first = routes[0].address
    lines += [
        '    location = /gateway/health { default_type application/json; return 200 \'{"status": "ok"}\'; }',
        f"    location / {{ proxy_pass http://{first}; }}  # docs, health and metrics of the first route",
    ]
    for status, (code, title, detail) in sorted(_ERRORS.items()):
        lines += [
            f"    location @problem_{status} {{",
            "      default_type application/problem+json;",
            "      add_header X-Request-ID $caremesh_request_id always;",
            *(["      add_header Retry-After 1 always;"] if status in (429, 503) else []),
            f"      return {status} '{_problem(status, code, title, detail)}';",
            "    }",
        ]
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def parse_routes(texts: Iterable[str]) -> list[Route]:
    return [Route.parse(text) for text in texts]
