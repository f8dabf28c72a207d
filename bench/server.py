"""Start a real `caremesh serve` process on a throwaway database for a benchmark."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import lean
from caremesh.platform.migrate import upgrade
from caremesh.platform.settings import DatabaseSettings

ADMIN_EMAIL = "bench-admin@example.org"
POSTGRES_URL = os.environ.get("CAREMESH_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# `caremesh serve --workers N` on PostgreSQL (SQLite always runs one process).
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
READY_WAIT_SECONDS = 120  # a start takes seconds of CPU per process, more on a busy machine


@dataclass
class Backend:
    name: str
    db: DatabaseSettings


def backends(workdir: Path) -> list[Backend]:
    """SQLite and PostgreSQL, or those named in BENCH_BACKENDS (`postgres`, `sqlite,postgres`)."""
    wanted = set(os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(","))
    found = [Backend("sqlite", DatabaseSettings(database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}"))]
    schema = f"bench_{os.getpid()}"
    found.append(Backend("postgres", DatabaseSettings(database_url=POSTGRES_URL, database_schema=schema)))
    return [backend for backend in found if backend.name in wanted]


def own_schema(backend: Backend, flow: str) -> Backend:
    """`backend` on a schema of its own for `flow`, so flows run one after another in one process never meet."""
    if not backend.db.database_schema:
        return backend
    return Backend(
        backend.name, backend.db.model_copy(update={"database_schema": f"{backend.db.database_schema}_{flow}"})
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base_url: str
    admin_password: str
    pid: int | None = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes (its workers too) have used so far: unlike a rate, it
        hardly moves when other work shares the cores. 0 where /proc is missing."""
        return process_tree_cpu_seconds(self.pid) if self.pid else 0.0


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and its living descendants, from Linux's /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(entry.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(times.get(pid, 0.0) for pid in tree)


def server_environment(
    db: DatabaseSettings, workdir: Path, admin_password: str, settings: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a benchmarked `caremesh serve`: `db`, the bench's admin, no rate limits, quiet logs,
    and `settings` as extra `CAREMESH_*` variables."""
    env = {
        **os.environ,
        "CAREMESH_DATABASE_URL": db.database_url,
        "CAREMESH_ADMIN_EMAIL": ADMIN_EMAIL,
        "CAREMESH_ADMIN_PASSWORD": admin_password,
        "CAREMESH_JWT_SECRET": secrets.token_urlsafe(32),
        "CAREMESH_SECRET_FILE": str(workdir / "secret"),
        "CAREMESH_API_RATE_LIMIT": "0/minute",
        "CAREMESH_LOGIN_RATE_LIMIT": "0/minute",
        "CAREMESH_LOG_LEVEL": "WARNING",
        **(settings or {}),
    }
    if db.database_schema:
        env["CAREMESH_DATABASE_SCHEMA"] = db.database_schema
    return env


@asynccontextmanager
async def running_server(db: DatabaseSettings, settings: dict[str, str] | None = None) -> AsyncIterator[Server]:
    """`caremesh serve` on `db`, with `settings` as extra `CAREMESH_*` environment variables."""
    await upgrade(db)
    port = _free_port()
    password = f"bench-{secrets.token_urlsafe(12)}"
    workdir = Path(tempfile.mkdtemp(prefix="caremesh-bench-"))
    env = server_environment(db, workdir, password, settings)
    command = [str(Path(sys.executable).parent / "caremesh"), "serve", "--no-migrate", "--port", str(port)]
    if not db.is_sqlite and WORKERS > 1:
        command += ["--workers", str(WORKERS)]
    log_path = workdir / "server.log"
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(READY_WAIT_SECONDS * 10):
                if process.returncode is not None:
                    raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{base_url}/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("server did not become ready")
        yield Server(base_url, password, process.pid)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=20)
        log.close()


@asynccontextmanager
async def admin_session(server: Server, clients: int) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """An HTTP client with `clients` connections to the server, and the bench admin's headers."""
    async with lean.client(server.base_url, clients) as client:
        login = await client.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": server.admin_password})
        login.raise_for_status()
        yield client, {"Authorization": f"Bearer {login.json()['access_token']}"}


def print_table(columns: tuple[tuple[str, int], ...], rows: list[str]) -> None:
    print(f"{'backend':<10} " + " ".join(f"{name:>{width}}" for name, width in columns))
    print("\n".join(rows))
