"""An exact OpenAPI document: every status an operation can answer, each error with the problem schema.

The generic statuses are derived here from what a route depends on (`install_openapi`): a bearer
token → 401 and 429, a role check → 403, path parameters → 404, a JSON body → 400, 413, 415 and 422,
`If-Match` → 412, a POST that honours `Idempotency-Key` → its answers. A route declares only its own business
outcomes, with `responses=problems(SomeError, ...)`, naming the codes each status can carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from caremesh.platform.errors import PROBLEM_JSON, DomainError

PROBLEM_REF = "#/components/schemas/ProblemDetails"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ProblemDetails",
    "description": "An RFC 9457 problem. `code` is stable (UPPER_SNAKE); validation problems add `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

# What each generic status means, and the codes it carries wherever it is derived.
GENERIC: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("The request is malformed.", ("MALFORMED_JSON",)),
    401: ("Not authenticated.", ("UNAUTHENTICATED",)),
    402: ("The payment gateway declined.", ()),
    403: ("Your roles do not allow this.", ("FORBIDDEN",)),
    404: ("Something the request names does not exist (or is not yours to see).", ("NOT_FOUND",)),
    409: ("A conflict with the current state.", ()),
    412: ("`If-Match` names another version than the current one.", ("VERSION_CONFLICT",)),
    413: ("The body is larger than the server accepts.", ("PAYLOAD_TOO_LARGE",)),
    415: ("The body is not of a media type this operation accepts.", ("UNSUPPORTED_MEDIA_TYPE",)),
    422: ("The request breaks a rule.", ("VALIDATION_ERROR",)),
    423: ("The account is locked for a while.", ()),
    429: ("Too many requests: wait `Retry-After` seconds.", ("RATE_LIMITED",)),
    502: ("An upstream service did not answer.", ()),
}
IDEMPOTENCY = {
    400: ("IDEMPOTENCY_KEY_INVALID",),
    409: ("IDEMPOTENCY_REQUEST_IN_PROGRESS",),
    422: ("IDEMPOTENCY_KEY_REUSED",),
}
HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
}
CODES_KEY = "x-problem-codes"


def problems(
    *errors: type[DomainError] | tuple[int, str], descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the business errors it can answer, as classes or `(status, code)` pairs;
    `descriptions` replaces a status's generic one."""
    found: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        status, code = (error.status, error.code) if isinstance(error, type) else error
        entry = found.setdefault(status, {"description": GENERIC.get(status, ("An error.", ()))[0], CODES_KEY: []})
        if code not in entry[CODES_KEY]:
            entry[CODES_KEY].append(code)
    for status, text in (descriptions or {}).items():
        found[status]["description"] = text
    return found


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    return {sub.call for sub in _dependencies(dependant) if sub.call is not None}


def derived_statuses(route: Any) -> dict[int, tuple[str, ...]]:
    """The statuses (with their codes) a route can answer because of what it depends on."""
    from caremesh.platform.api import current_principal, expected_version, idempotency_key

    dependant = route.dependant
    calls = _calls(dependant)
    every = [dependant, *_dependencies(dependant)]
    found: dict[int, set[str]] = {}

    def add(status: int, codes: Iterable[str] = ()) -> None:
        found.setdefault(status, set()).update(codes or GENERIC[status][1])

    if current_principal in calls:
        add(401)
        add(429)
    if any(getattr(call, "permission", None) for call in calls):
        add(403)
    if any(d.path_params for d in every):
        add(404)
    if expected_version in calls:
        add(412)
    has_body = bool(dependant.body_params) or "requestBody" in (route.openapi_extra or {})
    if has_body:
        for status in (400, 413, 415, 422):
            add(status)
    if has_body or any(d.query_params or d.header_params or d.path_params for d in every):
        add(422)
    if idempotency_key in calls:
        for status, codes in IDEMPOTENCY.items():
            add(status, codes)
    return {status: tuple(sorted(codes)) for status, codes in found.items()}


def _problem_response(description: str, codes: Iterable[str], status: int) -> dict[str, Any]:
    listed = sorted(set(codes))
    text = description + (f" Codes: {', '.join(listed)}." if listed else "")
    response: dict[str, Any] = {"description": text, "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}}
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def _hoist_defs(node: Any, schemas: dict[str, Any]) -> Any:
    """Moves `$defs` left inside hand-written schemas (`openapi_extra`) to the components, fixing their refs."""
    if isinstance(node, dict):
        for name, definition in node.pop("$defs", {}).items():
            schemas.setdefault(name, _hoist_defs(definition, schemas))
        return {
            key: (value.replace("#/$defs/", "#/components/schemas/") if key == "$ref" else _hoist_defs(value, schemas))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hoist_defs(item, schemas) for item in node]
    return node


NO_NUL = "^[^\\x00]*$"


def _refuse_nul(node: Any) -> None:
    """Request strings may not hold NUL (`Strict` and the request middleware refuse it): say so in the schema."""
    if isinstance(node, dict):
        plain = node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys()
        if plain:
            node["pattern"] = NO_NUL
        for value in node.values():
            _refuse_nul(value)
    elif isinstance(node, list):
        for item in node:
            _refuse_nul(item)


def _request_schemas(document: dict[str, Any]) -> Iterator[Any]:
    """The schemas of every request body and parameter, and of the components they reach."""
    schemas = document["components"]["schemas"]
    seen: set[str] = set()
    pending: list[Any] = []
    for operation in (op for path in document["paths"].values() for op in path.values()):
        pending += [p.get("schema") for p in operation.get("parameters", ())]
        pending += [c.get("schema") for c in operation.get("requestBody", {}).get("content", {}).values()]
    while pending:
        node = pending.pop()
        yield node
        for ref in _refs(node):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen and name in schemas:
                seen.add(name)
                pending.append(schemas[name])


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _complete(route: Any, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    statuses: dict[int, set[str]] = {status: set(codes) for status, codes in derived_statuses(route).items()}
    for status, declared in (route.responses or {}).items():
        if CODES_KEY in declared:  # from problems(); other declared responses stay as FastAPI renders them
            statuses.setdefault(int(status), set()).update(declared.get(CODES_KEY, ()))
    for status, codes in sorted(statuses.items()):
        declared = (route.responses or {}).get(status, {})
        description = declared.get("description") or GENERIC.get(status, ("An error.", ()))[0]
        responses[str(status)] = _problem_response(description, codes, status)
    operation["responses"] = dict(sorted(responses.items()))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    document["paths"] = _hoist_defs(document.get("paths", {}), schemas)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for schema in list(_request_schemas(document)):
        _refuse_nul(schema)
    schemas["ProblemDetails"] = PROBLEM_SCHEMA
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = document["paths"].get(route.path_format)
        for method in route.methods:
            if path and method.lower() in path:
                _complete(route, path[method.lower()])
    for operation in (op for path in document["paths"].values() for op in path.values()):
        for response in operation.get("responses", {}).values():
            response.pop(CODES_KEY, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Replaces `app.openapi` with the exact document, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def documented_statuses(document: dict[str, Any]) -> dict[tuple[str, str], set[int]]:
    """(METHOD, path template) → the statuses the document lists; for tests that hold the server to it."""
    return {
        (method.upper(), path): {int(s) for s in operation.get("responses", {}) if s.isdigit()}
        for path, operations in document.get("paths", {}).items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and method in {"get", "post", "put", "patch", "delete", "head", "options"}
    }
