"""The staff web app (and a patient's view) at `/app`: static files inside the package, no CDN, no build step.
It is a client of the public `/api/v1` and `/fhir/R4` APIs like any other; the server only hands out the files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

APP_PATH = "/app"
STATIC_DIR = Path(__file__).parent / "static"

# Only our own files: no inline script, no third-party origin, no framing (clickjacking).
SECURITY_HEADERS = {
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"connect-src 'self'; frame-src 'self' blob:; object-src 'self' blob:; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'"
    ),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
}


class WebAppFiles(StaticFiles):
    """The app's files with its security headers; the page itself is revalidated on every load (so a new release
    is picked up), the scripts and styles by their ETag."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers.extend(SECURITY_HEADERS.items())
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def install_webapp(app: FastAPI) -> None:
    app.add_api_route(APP_PATH, lambda: RedirectResponse(f"{APP_PATH}/"), include_in_schema=False)
    app.mount(f"{APP_PATH}/", WebAppFiles(directory=STATIC_DIR, html=True), name="webapp")
