"""The HTTP edge: request body limit, CORS for configured origins, no caching of API answers."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caremesh.platform.errors import PayloadTooLarge

# Where a route puts its own body limit, read when the body is: routing has happened by then.
MAX_BODY_KEY = "caremesh.max_body_bytes"

CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID")
CORS_EXPOSED_HEADERS = ("ETag", "X-Request-ID", "Idempotent-Replayed", "Retry-After", "Location")


class BodyLimitMiddleware:
    """Refuses a request body over the limit (413 PAYLOAD_TOO_LARGE) before reading a byte when
    `Content-Length` says so, else as soon as the bytes received cross it (chunked or lying clients).

    The limit is `default` unless the route set its own in `scope[MAX_BODY_KEY]`. The refusal is raised
    from `receive`, inside the route, so the app's error handler renders it. (Starlette's
    RequestBodyLimitMiddleware, which FastAPI configures with `max_body_size`, answers a declared
    oversize body with a plain-text 413 that replaces the app's response, so it cannot be problem+json.)
    """

    def __init__(self, app: ASGIApp, default: int) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        declared_size = int(declared) if declared.isdigit() else None
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            limit = scope.get(MAX_BODY_KEY, self.default)
            if declared_size is not None and declared_size > limit:
                raise _too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, receive_within_limit, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than this endpoint's limit of {limit} bytes.")


class CorsMiddleware:
    """CORS for the configured origins only. A request from any other origin passes as if CORS did not
    exist (Starlette's middleware alone would answer its preflight and expose headers to it)."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is not None and ("*" in self.origins or origin in self.origins):
            await self.cors(scope, receive, send)
            return

        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).add_vary_header("Origin")  # the answer differs for allowed origins
            await send(message)

        await self.app(scope, receive, send_varying)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer under these path prefixes: they may carry patient data."""

    def __init__(self, app: ASGIApp, prefixes: Sequence[str]) -> None:
        self.app = app
        self.prefixes = tuple(prefix.rstrip("/") + "/" for prefix in prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"] + "/").startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)
