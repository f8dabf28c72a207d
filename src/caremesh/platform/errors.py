"""Errors as RFC 9457 problem+json with a stable UPPER_SNAKE `code`; one handler renders them all."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("caremesh.errors")


class DomainError(Exception):
    """A business rule said no. Carries its HTTP status and stable code.

    `keeps_side_effects` marks outcomes whose writes must still commit (a failed login counts
    towards the lockout, a reused refresh token revokes its family) while the request fails.
    """

    status: int = 400
    code: str = "BAD_REQUEST"
    title: str = "Bad request"
    keeps_side_effects: bool = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if code:
            self.code = code
        if status:
            self.status = status
        if title:
            self.title = title
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)


class NotFound(DomainError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "CONFLICT", "Conflict"


class Unprocessable(DomainError):
    status, code, title = 422, "VALIDATION_ERROR", "Unprocessable request"


class Unauthenticated(DomainError):
    status, code, title = 401, "UNAUTHENTICATED", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(DomainError):
    status, code, title = 403, "FORBIDDEN", "Forbidden"


class MethodNotAllowed(DomainError):
    status, code, title = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class NotAcceptable(DomainError):
    status, code, title = 406, "NOT_ACCEPTABLE", "Not acceptable"


class VersionConflict(DomainError):
    status, code, title = 412, "VERSION_CONFLICT", "The resource changed since you read it"


class RateLimited(DomainError):
    status, code, title = 429, "RATE_LIMITED", "Too many requests"


class MalformedJson(DomainError):
    status, code, title = 400, "MALFORMED_JSON", "The body is not valid JSON"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://caremesh.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# The error an HTTP status Starlette answers by itself (no route, a method the route does not answer, a body
# too large) is rendered as: its code and title. Any other status is an HTTP_ERROR.
_HTTP_ERRORS: dict[int, type[DomainError]] = {
    error.status: error
    for error in (
        DomainError,
        Unauthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        PayloadTooLarge,
        UnsupportedMediaType,
    )
}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path (Starlette names only the first route that matched it).
    Mounted apps (the docs' static files) answer for themselves."""
    path_only = {key: value for key, value in request.scope.items() if key != "fastapi"}
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**path_only, "method": method})[0] == Match.FULL for route in routes)
    )


def _location(loc: tuple[Any, ...]) -> list[Any]:
    return [part for part in loc if part != "body"] or list(loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": _location(tuple(e.get("loc", ()))), "msg": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        return problem(422, "VALIDATION_ERROR", "The request is not valid", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = _HTTP_ERRORS.get(exc.status_code)
        code, title = (error.code, error.title) if error is not None else ("HTTP_ERROR", "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            headers["Allow"] = allowed
            detail = f"{request.method} is not allowed here; this path answers {allowed}."
        return problem(exc.status_code, code, title, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
        return problem(500, "INTERNAL_ERROR", "Internal server error", "The server could not complete the request.")


def invalid_field(field: str, message: str, *, code: str = "VALIDATION_ERROR") -> Unprocessable:
    """A 422 for a well-formed request whose field breaks a rule only the server can check."""
    return Unprocessable(
        f"{field}: {message}", code=code, extra={"errors": [{"loc": field.split("."), "msg": message}]}
    )


def check_version(current: int, expected: int | None) -> None:
    """Optimistic concurrency: `If-Match` named a version other than the current one."""
    if expected is not None and expected != current:
        raise VersionConflict(f"The resource is at version {current}, not {expected}.")
