"""The HTTP edge: request body limit."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caremesh.platform.errors import PayloadTooLarge

# Where a route puts its own body limit, read when the body is: routing has happened by then.
MAX_BODY_KEY = "caremesh.max_body_bytes"


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
