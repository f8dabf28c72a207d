"""`caremesh up`: the contexts as separate processes behind nginx, started by one command and stopped with it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from caremesh.contexts import CONTEXTS
from caremesh.platform.settings import DatabaseSettings, Settings
from caremesh.topology import DEFAULT_PROCESSES, TopologyProblem, broker_environment, plan
from tests.builders.patients import patient_body
from tests.builders.pharmacy import medication_body
from tests.harness import POSTGRES_URL, delete_streams, drop_schemas, free_port, process_env

NATS_URL = os.environ.get("CAREMESH_TEST_NATS_URL")

ADMIN = {"email": "up-admin@example.org", "password": "up-admin-password-123"}


_REST = "payments,insurance,pharmacy,lab,imaging,orders,claims,notifications"


def test_the_default_plan_serves_every_context_once_with_replicas_for_the_busy_ones():
    processes = plan(DEFAULT_PROCESSES, 9000)
    assert [p.port for p in processes] == [9000, 9001, 9002]
    assert sorted({c for p in processes for c in p.contexts}) == sorted(CONTEXTS)
    assert processes[1].contexts == processes[2].contexts  # two replicas
    assert "billing" in processes[1].contexts
    assert "--nice" not in processes[0].serve_arguments()


def test_a_group_at_lower_cpu_priority_is_served_with_nice():
    front, *rest = plan(
        ["identity,audit,patients,facilities,practitioners,scheduling,records,fhir@10", "billing*2", _REST], 9000
    )
    assert [p.nice for p in (front, *rest)] == [10, 0, 0, 0]
    assert front.serve_arguments()[-2:] == ("--nice", "10")
    assert "--nice" not in rest[0].serve_arguments()


@pytest.mark.parametrize(
    ("specs", "says"),
    [
        (["identity"], "no process serves: audit"),
        ([*DEFAULT_PROCESSES, "billing"], "billing named in two groups"),
        (["identity,nope"], "unknown context(s): nope"),
        ([",".join(CONTEXTS) + "*x"], "replicas are a number"),
        ([",".join(CONTEXTS) + "*2@x"], "@NICE is a number from 1 to 19"),
        ([",".join(CONTEXTS) + "@20"], "@NICE is a number from 1 to 19"),
    ],
)
def test_a_bad_plan_is_refused_clearly(specs, says):
    with pytest.raises(TopologyProblem) as caught:
        plan(specs, 9000)
    assert says in str(caught.value)


def _settings(url: str) -> Settings:
    return Settings(db=DatabaseSettings(database_url=url))


@pytest.mark.parametrize(
    ("database", "broker", "says"),
    [
        ("postgresql+asyncpg://x@127.0.0.1/x", "redis://127.0.0.1:4222", "a NATS URL"),
        ("sqlite+aiosqlite:///x.db", "nats://127.0.0.1:4222", "runs on PostgreSQL"),
        ("postgresql+asyncpg://x@127.0.0.1/x", "nats://127.0.0.1:1", "does not answer"),
    ],
)
def test_up_refuses_a_broker_it_cannot_use(database, broker, says):
    with pytest.raises(TopologyProblem) as caught:
        broker_environment(_settings(database), broker, "caremesh")
    assert says in str(caught.value)


def test_without_a_broker_every_process_is_told_to_use_none():
    assert broker_environment(_settings("sqlite+aiosqlite:///x.db"), None, "caremesh") == {"CAREMESH_BROKER_URL": ""}


def _free_ports(count: int) -> list[int]:
    """`count` consecutive free ports (the processes take consecutive ones)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = sock.getsockname()[1]
        if first + count < 65000 and all(_free(first + i) for i in range(count)):
            return [first + i for i in range(count)]
    raise AssertionError("no consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_up_starts_every_context_behind_nginx_and_stops_them_all(tmp_path: Path):
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx is not installed (.ci/run installs Debian's package)")
    gateway, *ports = _free_ports(4)
    schema = f"cm_up_{uuid.uuid4().hex[:8]}"
    database = (
        {"CAREMESH_DATABASE_URL": POSTGRES_URL, "CAREMESH_DATABASE_SCHEMA": schema}
        if POSTGRES_URL
        else {"CAREMESH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'caremesh.db'}"}
    )
    env = process_env(ADMIN["email"], ADMIN["password"], database)
    command = [str(Path(sys.executable).parent / "caremesh"), "up", "--listen", f"127.0.0.1:{gateway}"]
    namespace = f"cmup_{uuid.uuid4().hex[:10]}"
    if POSTGRES_URL and NATS_URL:  # the distributed mode; on SQLite the fallback through the event tables
        command += ["--broker", NATS_URL, "--namespace", namespace]
    up = subprocess.Popen(
        [*command, "--first-port", str(ports[0])], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{gateway}"
        deadline = time.monotonic() + 90
        while True:
            assert up.poll() is None, f"caremesh up stopped: {up.stdout.read() if up.stdout else ''}"
            try:
                if httpx.get(f"{base}/gateway/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "caremesh up did not come up"
            time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=10) as client:
            login = client.post("/api/v1/auth/login", json=ADMIN)
            assert login.status_code == 200, login.text
            admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
            patient = client.post("/api/v1/patients", json=patient_body(), headers=admin)
            medication = client.post("/api/v1/medications", json=medication_body(), headers=admin)
            document = client.get("/openapi.json").json()
        assert patient.status_code == 201, patient.text  # served by the first process
        assert medication.status_code == 201, medication.text  # by a replica of the second group
        assert {"/api/v1/patients", "/api/v1/medications", "/api/v1/invoices"} <= set(document["paths"])
        if POSTGRES_URL and NATS_URL:  # the relay publishes after the commit, in the background
            published = time.monotonic() + 30
            while asyncio.run(_stream_messages(namespace)) == 0 and time.monotonic() < published:
                time.sleep(0.5)
            assert asyncio.run(_stream_messages(namespace)) > 0, "no event went through NATS"

        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0
        assert all(_free(port) for port in (gateway, *ports)), "a process outlived caremesh up"
    finally:
        if up.poll() is None:
            up.kill()
        if POSTGRES_URL:
            drop_schemas(schema)
        if POSTGRES_URL and NATS_URL:
            delete_streams(NATS_URL, namespace)


async def _stream_messages(namespace: str) -> int:
    import nats

    client = await nats.connect(NATS_URL)
    try:
        return (await client.jetstream().stream_info(namespace.upper())).state.messages
    finally:
        await client.close()


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the niceness from Linux's /proc")
def test_serve_nice_lowers_the_process_cpu_priority(tmp_path: Path):
    port = free_port()
    env = process_env(
        ADMIN["email"], ADMIN["password"], {"CAREMESH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nice.db'}"}
    )
    command = [str(Path(sys.executable).parent / "caremesh"), "serve", "--nice", "7", "--port", str(port)]
    serve = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert serve.poll() is None, "serve exited"
        assert _niceness(serve.pid) == min(_niceness(os.getpid()) + 7, 19)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
