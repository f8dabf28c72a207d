"""JSON logs that never carry personal data, request ids, and Prometheus metrics."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caremesh.platform.settings import AppSettings

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Keys whose values are personal data or secrets; they are masked wherever they appear in a log event.
PERSONAL_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "name",
        "date_of_birth",
        "dob",
        "phone",
        "email",
        "address",
        "bin",
        "pcn",
        "member_id",
        "insurance",
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "q",
    }
)
REDACTED = "[redacted]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in PERSONAL_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _EMAIL.sub(REDACTED, value)
    return value


def redact_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return _scrub(event_dict)


def configure_logging(settings: AppSettings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    renderer = structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer()
    level = logging.getLevelName(settings.log_level.upper())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level if isinstance(level, int) else logging.INFO),
        # Whatever sys.stdout is when a logger is made; one write per line (message and newline together), so the
        # lines of `serve --workers N`, which share stdout, never run into each other.
        logger_factory=structlog.WriteLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    # Library loggers (uvicorn, sqlalchemy) go through the same JSON pipeline; access logs stay off
    # because raw URLs can carry search terms such as a patient's name.
    handler = _CurrentStdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *shared, renderer]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current sys.stdout, not the one that was set when logging was configured."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


# Any printable ASCII id a client or proxy sends is echoed (e.g. AWS's "Root=1-..."); JSON logs escape it.
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


class RequestContextMiddleware:
    """Echo or assign `X-Request-ID`, bind it to logs, and measure every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("caremesh.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from caremesh.platform.errors import problem

        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        response_started = False

        async def send_tracked(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            if b"%00" in scope.get("query_string", b""):
                refusal = problem(
                    422,
                    "VALIDATION_ERROR",
                    "The request is not valid",
                    "Query parameters must not contain NUL.",
                    errors=[{"loc": ["query"], "msg": "must not contain NUL characters"}],
                )
                await refusal(scope, receive, send_tracked)
                return
            await self.app(scope, receive, send_tracked)
        except Exception as error:
            # Rendered here, inside the request's context, so the 500 carries X-Request-ID and the log
            # line its request_id (Starlette's outermost error middleware would have neither).
            self.log.error("unhandled_error", error_type=type(error).__name__, exc_info=error)
            if response_started:
                raise
            crash = problem(
                500, "INTERNAL_ERROR", "Internal server error", "The server could not complete the request."
            )
            await crash(scope, receive, send_tracked)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("caremesh.route") or getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            self.log.info(
                "request", method=scope["method"], route=route, status=status, duration_ms=round(elapsed * 1000, 2)
            )
            structlog.contextvars.unbind_contextvars("request_id")
