"""`caremesh serve --workers N`: N uvicorn worker processes on one port (PostgreSQL), each with its own relay and
consumers; the start-up steps run once, before them. SQLite keeps one writer process: more workers are refused."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.builders.patients import patient_body
from tests.builders.practitioners import practitioner_body
from tests.harness import POSTGRES_URL, dies_with_test, drop_schemas, free_port, process_env

ADMIN = {"email": "workers-admin@example.org", "password": "workers-admin-password-123"}
CAREMESH = str(Path(sys.executable).parent / "caremesh")
VISITS = 24
START_TIMEOUT_SECONDS = 180.0  # importing and building the app takes seconds of CPU a process; two cores are shared
INVOICE_TIMEOUT_SECONDS = 120.0


def _log_lines(path: Path) -> list[dict]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def _wait_ready(process: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        assert process.poll() is None, f"caremesh serve stopped: {log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"caremesh serve did not come up: {log.read_text()[-3000:]}"
        time.sleep(0.3)


def _next_weekday(days_ahead: int) -> date:
    day = datetime.now(UTC).date() + timedelta(days=days_ahead)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


async def _visits_invoiced_once(base: str) -> list[str]:
    """Book and complete VISITS visits with concurrent clients, then wait for their invoices; one each."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json=ADMIN)
        assert login.status_code == 200, login.text
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        doctor = await client.post("/api/v1/practitioners", json=practitioner_body(), headers=admin)
        assert doctor.status_code == 201, doctor.text
        patients = []
        for _ in range(4):
            patient = await client.post("/api/v1/patients", json=patient_body(), headers=admin)
            assert patient.status_code == 201, patient.text
            patients.append(patient.json()["id"])
        day = _next_weekday(7)
        first = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)

        async def visit(index: int) -> str:
            body = {
                "patient_id": patients[index % len(patients)],
                "practitioner_id": doctor.json()["id"],
                "start": (first + timedelta(minutes=20 * index)).isoformat(),
                "duration_minutes": 20,
            }
            booked = await client.post("/api/v1/appointments", json=body, headers=admin)
            assert booked.status_code == 201, booked.text
            appointment = booked.json()["id"]
            completed = await client.post(f"/api/v1/appointments/{appointment}/complete", headers=admin)
            assert completed.status_code == 200, completed.text
            return appointment

        appointments = await asyncio.gather(*(visit(i) for i in range(VISITS)))
        deadline = time.monotonic() + INVOICE_TIMEOUT_SECONDS
        invoices: dict[str, list[dict]] = {}
        while len(invoices) < VISITS:
            assert time.monotonic() < deadline, f"only {len(invoices)} of {VISITS} visits were invoiced"
            for appointment in appointments:
                if appointment not in invoices:
                    found = await client.get("/api/v1/invoices", params={"appointment_id": appointment}, headers=admin)
                    assert found.status_code == 200, found.text
                    if found.json()["items"]:
                        invoices[appointment] = found.json()["items"]
            await asyncio.sleep(0.2)
        assert all(len(items) == 1 for items in invoices.values())
        return appointments


def _reach_both_workers(base: str, log: Path) -> set[int]:
    """Requests on new connections until the log shows two worker pids answering (at most 400)."""
    pids: set[int] = set()
    for _ in range(20):
        for _ in range(20):
            assert httpx.get(f"{base}/health/live", timeout=10).status_code == 200  # a new connection each
        pids = {line["pid"] for line in _log_lines(log) if line.get("event") == "request"}
        if len(pids) >= 2:
            break
    return pids


@pytest.mark.skipif(not POSTGRES_URL, reason="--workers runs on PostgreSQL (CAREMESH_TEST_DATABASE_URL)")
def test_two_workers_serve_one_port_and_deliver_each_event_once(tmp_path: Path):
    schema = f"cm_workers_{uuid.uuid4().hex[:8]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = process_env(
        ADMIN["email"],
        ADMIN["password"],
        {"CAREMESH_DATABASE_URL": POSTGRES_URL, "CAREMESH_DATABASE_SCHEMA": schema, "CAREMESH_LOG_LEVEL": "INFO"},
    )
    command = [CAREMESH, "serve", "--migrate", "--workers", "2", "--port", str(port)]
    with log.open("wb") as out:
        serve = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, preexec_fn=dies_with_test
        )
    try:
        _wait_ready(serve, base, log)
        pids = _reach_both_workers(base, log)
        appointments = asyncio.run(_visits_invoiced_once(base))
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if serve.poll() is None:
            serve.kill()
        drop_schemas(schema)

    lines = _log_lines(log)
    assert len(pids) == 2, pids
    assert serve.pid not in pids  # the parent only supervises
    # The first admin was created once, by the parent before the workers started (its lines carry no pid).
    bootstrapped = [line for line in lines if line.get("event") == "admin_bootstrapped"]
    assert len(bootstrapped) == 1
    assert "pid" not in bootstrapped[0]
    # Every delivery was handled once, by one worker: no event reached a consumer twice.
    consumed = [line for line in lines if line.get("event") == "event_consumed"]
    assert not [line for line in consumed if line["duplicate"]]
    twice = [key for key, n in Counter((line["consumer"], line["event_id"]) for line in consumed).items() if n > 1]
    assert not twice, twice
    billed = [
        line for line in consumed if line["event_type"] == "appointment.completed" and line["consumer"] == "billing"
    ]
    assert len(billed) == len(appointments)
    assert {line["pid"] for line in consumed} <= pids
    assert not [line for line in lines if line.get("level") in ("error", "critical")], "errors in the log"


def test_more_than_one_worker_on_sqlite_is_refused_clearly(tmp_path: Path):
    database = tmp_path / "caremesh.db"
    env = process_env(ADMIN["email"], ADMIN["password"], {"CAREMESH_DATABASE_URL": f"sqlite+aiosqlite:///{database}"})
    result = subprocess.run(
        [CAREMESH, "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--workers 2 needs PostgreSQL" in result.stderr
    assert not database.exists()  # refused before anything was created
