"""The distributed topology for tests: `caremesh serve --contexts` processes on PostgreSQL (a throwaway schema)
and NATS JetStream (a throwaway namespace), nginx in front, each process startable, killable (SIGKILL) and
restartable by name; and a small HTTP client of the gateway that does what tests/harness.Env does in-process.

Runs only when CAREMESH_TEST_DATABASE_URL and CAREMESH_TEST_NATS_URL are set (`.ci/run` sets both).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import nats
import pytest

from caremesh.contexts import CONTEXTS
from caremesh.gateway import Limits, Route, render
from tests.harness import POSTGRES_URL, delete_streams, dies_with_test, drop_schemas, free_port, process_env

NATS_URL = os.environ.get("CAREMESH_TEST_NATS_URL")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"
CAREMESH = str(Path(sys.executable).parent / "caremesh")
ADMIN = {"email": "cluster-admin@example.org", "password": "cluster-admin-password-1"}
PEOPLE = "identity,audit,patients,facilities,practitioners,scheduling,records,fhir"
REST = "payments,insurance,pharmacy,lab,imaging,orders,claims,notifications"
# Four processes: billing alone in two replicas, so that the failure tests can kill exactly its replicas.
GROUPS = {"people": PEOPLE, "billing-1": "billing", "billing-2": "billing", "rest": REST}

T = TypeVar("T")


def require_servers() -> None:
    """Skip unless PostgreSQL, NATS and nginx are all there."""
    if not (POSTGRES_URL and NATS_URL):
        pytest.skip("the distributed tests need CAREMESH_TEST_DATABASE_URL and CAREMESH_TEST_NATS_URL")
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (.ci/run installs Debian's package)")


def wait_for(what: str, check: Callable[[], T | None], seconds: float = 60, every: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


async def eventually(what: str, check: Callable[[], Awaitable[T | None]], seconds: float = 60) -> T:
    """The async `wait_for`."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Cluster:
    workdir: Path
    schema: str
    namespace: str
    broker_url: str
    groups: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return process_env(
            ADMIN["email"],
            ADMIN["password"],
            {
                "CAREMESH_DATABASE_URL": POSTGRES_URL or "",
                "CAREMESH_DATABASE_SCHEMA": self.schema,
                "CAREMESH_BROKER_URL": self.broker_url,
                "CAREMESH_BROKER_NAMESPACE": self.namespace,
                "CAREMESH_JWT_SECRET": "cluster-signing-secret-for-tests-0123456789abcdef",
                "CAREMESH_SECRET_FILE": str(self.workdir / "secret"),
                "CAREMESH_LOGIN_RATE_LIMIT": "0/minute",
                "CAREMESH_API_RATE_LIMIT": "0/minute",
                "CAREMESH_TIMEZONE": "UTC",
                "CAREMESH_RELAY_POLL_SECONDS": "0.2",
                # A delivery to a killed replica comes again after this long (production: 30 s).
                "CAREMESH_BROKER_ACK_WAIT_SECONDS": "3",
            },
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports['nginx']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def migrate(self) -> None:
        subprocess.run([CAREMESH, "migrate"], env=self.env, cwd=self.workdir, check=True, capture_output=True)

    def start(self, *names: str, wait: bool = True, env: dict[str, str] | None = None) -> None:
        """Start these processes (again, on the same ports), with `env` on top of the cluster's; wait until each
        is ready."""
        for name in names:
            self.ports.setdefault(name, free_port())
            command = [CAREMESH, "serve", "--no-migrate", "--contexts", self.groups[name]]
            self.processes[name] = subprocess.Popen(
                [*command, "--port", str(self.ports[name])],
                env=self.env | (env or {}),
                cwd=self.workdir,
                stdout=(self.workdir / f"{name}.log").open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=dies_with_test,
            )
        if wait:
            for name in names:
                self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        process = self.processes[name]

        def ready() -> bool:
            if process.poll() is not None:
                log = (self.workdir / f"{name}.log").read_text()[-3000:]
                raise AssertionError(f"{name} exited with {process.returncode}:\n{log}")
            return _answers(f"{self.url(name)}/health/ready")

        wait_for(f"{name} to be ready", ready)

    def kill(self, *names: str) -> None:
        """SIGKILL: no shutdown, no goodbye to the broker or the database."""
        for name in names:
            os.killpg(self.processes[name].pid, signal.SIGKILL)
        for name in names:
            self.processes[name].wait(timeout=10)

    def terminate(self, name: str) -> None:
        """SIGTERM, and wait for the process to end."""
        os.killpg(self.processes[name].pid, signal.SIGTERM)
        self.processes[name].wait(timeout=20)

    def start_gateway(self) -> None:
        self.ports.setdefault("nginx", free_port())
        routes = [Route(tuple(self.groups[name].split(",")), f"127.0.0.1:{self.ports[name]}") for name in GROUPS]
        conf = self.workdir / "nginx.conf"
        conf.write_text(render(f"127.0.0.1:{self.ports['nginx']}", routes, Limits(requests_per_second=10000)))
        self.processes["nginx"] = subprocess.Popen(
            [NGINX, "-p", str(self.workdir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "nginx.log").open("ab"),
            start_new_session=True,
            preexec_fn=dies_with_test,
        )
        wait_for("nginx", lambda: _answers(f"{self.base}/gateway/health"))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    # The only SQL of the distributed tests: the event tables' counts, summed over the cluster's schemas (on
    # PostgreSQL each context keeps its own outbox, deliveries and inbox in `<cluster schema>_<context>`).

    async def count_everywhere(self, table: str, where: str = "true") -> int:
        connection = await asyncpg.connect((POSTGRES_URL or "").replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            schemas = await connection.fetch(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = $1"
                " AND (table_schema = $2 OR table_schema LIKE $2 || '\\_%')",
                table,
                self.schema,
            )
            total = 0
            for row in schemas:
                total += await connection.fetchval(
                    f'SELECT count(*) FROM "{row["table_schema"]}"."{table}" WHERE {where}'
                )
            return total
        finally:
            await connection.close()

    async def unpublished_events(self) -> int:
        """Committed events the relays have not handed to the broker yet."""
        return await self.count_everywhere("outbox_events", "published_at IS NULL")

    async def outbox_events(self) -> int:
        return await self.count_everywhere("outbox_events")

    async def table_deliveries(self) -> int:
        """Deliveries through the database's table (the embedded transport): none when NATS carries the events."""
        return await self.count_everywhere("event_deliveries")

    async def consumers_idle(self) -> bool:
        """Every durable consumer of the stream has nothing pending and nothing delivered but unacknowledged."""
        client = await nats.connect(self.broker_url)
        try:
            consumers = await client.jetstream().consumers_info(self.namespace.upper())
            return all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers)
        finally:
            await client.close()

    async def stream_messages(self) -> int:
        """How many messages the namespace's stream holds (each event once: JetStream drops duplicates)."""
        client = await nats.connect(self.broker_url)
        try:
            info = await client.jetstream().stream_info(self.namespace.upper())
            return info.state.messages
        finally:
            await client.close()


@contextmanager
def running_cluster(workdir: Path, broker_url: str | None = None, *, start: bool = True) -> Iterator[Cluster]:
    """A new schema (migrated) and namespace; with `start`, every process of GROUPS and nginx in front. Everything
    is stopped and dropped after. Besides GROUPS, `all` names a process serving every context."""
    cluster = Cluster(
        workdir=workdir,
        schema=f"cm_dist_{uuid.uuid4().hex[:8]}",
        namespace=f"cmdist_{uuid.uuid4().hex[:10]}",
        broker_url=broker_url or NATS_URL or "",
        groups={**GROUPS, "all": ",".join(CONTEXTS)},
    )
    try:
        cluster.migrate()
        if start:
            cluster.start(*GROUPS)
            cluster.start_gateway()
        yield cluster
    finally:
        cluster.stop()
        drop_schemas(cluster.schema)
        delete_streams(cluster.broker_url, cluster.namespace)


@contextmanager
def nats_server(workdir: Path, port: int | None = None) -> Iterator[NatsServer]:
    """A nats-server of our own (JetStream, its own store directory), to stop and start again."""
    server = NatsServer(port or free_port(), workdir / "nats-store")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class NatsServer:
    port: int
    store: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("nats-server", lambda: asyncio.run(_nats_answers(self.url)))

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


async def _nats_answers(url: str) -> bool:
    try:
        client = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False)
    except Exception:
        return False
    try:
        await client.jetstream().account_info()
        return True
    except Exception:
        return False
    finally:
        await client.close()


class Gateway:
    """What a test does through the gateway: an HTTP client, the admin's headers, polling for outcomes."""

    def __init__(self, base: str) -> None:
        self.client = httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=20))
        self.admin: dict[str, str] = {}

    async def __aenter__(self) -> Gateway:
        self.admin = await self.login(ADMIN["email"], ADMIN["password"])
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    async def login(self, email: str, password: str) -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def call(
        self, method: str, path: str, expected: int = 200, headers: dict[str, str] | None = None, **body: Any
    ) -> Any:
        response = await self.client.request(method, f"/api/v1{path}", headers=headers or self.admin, json=body or None)
        assert response.status_code == expected, (method, path, response.status_code, response.text)
        return response.json()

    async def invoices_of(self, appointment_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/invoices", params={"appointment_id": appointment_id}, headers=self.admin
        )
        if response.status_code != 200:  # e.g. 503 while no billing replica answers
            return []
        return response.json()["items"]
