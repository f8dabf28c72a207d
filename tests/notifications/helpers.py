"""Real servers for the channels to talk to: an SMTP server (aiosmtpd) and an HTTP endpoint for SMS,
each on 127.0.0.1 in a thread of its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from caremesh.notifications.jobs import NotificationDispatcher
from tests.harness import free_port


class _Inbox:
    """An aiosmtpd handler that keeps every message it accepts and refuses the `refused` recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1; `credentials` turns on AUTH (without TLS, for the test)."""

    def __init__(self, port: int | None = None, credentials: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.inbox = _Inbox()
        self.credentials = credentials
        self.logins: list[str] = []
        extra: dict[str, Any] = {}
        if credentials:
            extra = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **extra)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self.credentials
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    @property
    def url(self) -> str:
        if self.credentials:
            user, password = self.credentials
            return f"smtp://{user}:{password}@127.0.0.1:{self.port}?starttls=false"
        return f"smtp://127.0.0.1:{self.port}?starttls=false"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@contextmanager
def smtp_server(port: int | None = None, credentials: tuple[str, str] | None = None) -> Iterator[SmtpServer]:
    server = SmtpServer(port, credentials).start()
    try:
        yield server
    finally:
        server.stop()


class Webhook:
    """An HTTP endpoint that records each POST and answers with the next status of `statuses`
    (the last one repeats)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [200])
        self.requests: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                hook.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(self.rfile.read(length)),
                    }
                )
                status = hook.statuses.pop(0) if len(hook.statuses) > 1 else hook.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def start(self) -> Webhook:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def webhook(statuses: list[int] | None = None) -> Iterator[Webhook]:
    hook = Webhook(statuses).start()
    try:
        yield hook
    finally:
        hook.stop()


def dispatcher(env: Any) -> NotificationDispatcher:
    """The app's own dispatcher (the job `env.drain()` runs)."""
    [job] = [j for j in env.app.state.workers.jobs if isinstance(j, NotificationDispatcher)]
    return job
