"""A load generator that costs little CPU: keep-alive HTTP/1.1 over asyncio streams, one request in flight per
connection, as many connections as clients.

On a 2-core machine the benchmark's client shares the cores with the server and the database; httpx spends about
2 ms of CPU per request (`python -m bench ceiling` prints it), which is a fifth to a half of what the server spends
on a request. This client answers the part of httpx's interface the benchmarks use (`get`, `post`, `status_code`,
`json()`, `text`, `is_error`, `raise_for_status()`) for about a tenth of that. BENCH_CLIENT=httpx measures with httpx.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

KEEP_ALIVE_SECONDS = 4.0


class LeanError(Exception):
    pass


class Response:
    __slots__ = ("_request", "content", "status_code")

    def __init__(self, status_code: int, content: bytes, request: str) -> None:
        self.status_code = status_code
        self.content = content
        self._request = request

    @property
    def text(self) -> str:
        return self.content.decode()

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> Response:
        if self.is_error:
            raise LeanError(f"{self._request} answered {self.status_code}: {self.text[:300]}")
        return self


class LeanClient:
    def __init__(self, base_url: str, connections: int, timeout: float = 60) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = asyncio.Queue()
        self._open = 0
        self._limit = connections
        self._host_header = f"Host: {self.host}:{self.port}\r\n".encode()

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        while not self._idle.empty():
            _, writer, _ = self._idle.get_nowait()
            writer.close()

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """An idle connection, or a new one while fewer than the limit are open. One idle for longer than the
        server keeps connections alive (uvicorn: 5 s) is replaced, so a request never goes out on a closed one."""
        while not self._idle.empty() or self._open >= self._limit:
            reader, writer, idle_since = await self._idle.get()
            if time.monotonic() - idle_since < KEEP_ALIVE_SECONDS:
                return reader, writer
            writer.close()
            self._open -= 1
        self._open += 1
        try:
            return await asyncio.open_connection(self.host, self.port)
        except OSError:
            self._open -= 1
            raise

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if params:
            path = f"{path}?{urlencode(params)}"
        body = b"" if json_body is None else json.dumps(json_body).encode()
        head = [
            f"{method} {path} HTTP/1.1\r\n".encode(),
            self._host_header,
            f"Content-Length: {len(body)}\r\n".encode(),
        ]
        if json_body is not None:
            head.append(b"Content-Type: application/json\r\n")
        head += [f"{name}: {value}\r\n".encode() for name, value in (headers or {}).items()]
        reader, writer = await self._connection()
        try:
            writer.write(b"".join(head) + b"\r\n" + body)
            status, content, keep = await asyncio.wait_for(self._read(reader), self.timeout)
        except BaseException:
            writer.close()
            self._open -= 1
            raise
        if keep:
            self._idle.put_nowait((reader, writer, time.monotonic()))
        else:
            writer.close()
            self._open -= 1
        return Response(status, content, f"{method} {path}")

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, chunked, keep = 0, False, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        if not chunked:
            return status, await reader.readexactly(length), keep
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return status, b"".join(parts), keep

    async def get(
        self, path: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        return await self.request("GET", path, params=params, headers=headers)

    async def post(self, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Response:
        return await self.request("POST", path, json_body=json, headers=headers)


def client(base_url: str, connections: int, timeout: float = 60) -> LeanClient | httpx.AsyncClient:
    """The benchmarks' HTTP client: the lean one unless BENCH_CLIENT=httpx."""
    if os.environ.get("BENCH_CLIENT", "lean") == "httpx":
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)
    return LeanClient(base_url, connections, timeout)
