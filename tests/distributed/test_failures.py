"""Failures of the distributed topology, with real processes and servers (PostgreSQL, NATS JetStream, nginx):
the billing replicas SIGKILLed halfway through a burst of completed visits; the relay's process killed between
JetStream's ack and the mark in the outbox; NATS itself killed during a burst. Each ends with every visit
invoiced exactly once. Outcomes are polled for with a timeout, never slept on."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx

from tests.builders.patients import patient_body
from tests.builders.practitioners import practitioner_body
from tests.distributed.cluster import (
    GROUPS,
    Cluster,
    Gateway,
    eventually,
    nats_server,
    require_servers,
    running_cluster,
)

REPO = Path(__file__).resolve().parents[2]
PRACTITIONERS = 4


async def book_visits(gateway: Gateway, count: int, weeks_ahead: int = 1) -> list[str]:
    """`count` appointments on one working day (30-minute slots from 08:00 over a few practitioners)."""
    day = datetime.now(UTC).date() + timedelta(weeks=weeks_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    patients = [await gateway.call("POST", "/patients", 201, **patient_body()) for _ in range(PRACTITIONERS)]
    doctors = [await gateway.call("POST", "/practitioners", 201, **practitioner_body()) for _ in range(PRACTITIONERS)]

    async def book(index: int) -> str:
        start = datetime.combine(day, time(8), tzinfo=UTC) + timedelta(minutes=30 * (index // PRACTITIONERS))
        pair = index % PRACTITIONERS  # a patient per practitioner: never two visits of one patient at once
        body = {"patient_id": patients[pair]["id"], "practitioner_id": doctors[pair]["id"]}
        booked = await gateway.call("POST", "/appointments", 201, **body, start=start.isoformat())
        return booked["id"]

    return list(await asyncio.gather(*(book(i) for i in range(count))))


async def complete_all(gateway: Gateway, appointments: list[str]) -> None:
    """Complete the visits at once; every completion must commit."""
    await asyncio.gather(*(gateway.call("POST", f"/appointments/{a}/complete") for a in appointments))


async def invoiced_once(gateway: Gateway, cluster: Cluster, appointments: list[str]) -> None:
    """Wait until every visit has its invoice and the consumers are idle; then each has exactly one."""

    async def all_invoiced() -> bool:
        found = await asyncio.gather(*(gateway.invoices_of(a) for a in appointments))
        return all(found)

    await eventually("an invoice for every visit", all_invoiced, seconds=90)
    await eventually("the consumers to finish", cluster.consumers_idle)
    counts = await asyncio.gather(*(gateway.invoices_of(a) for a in appointments))
    assert [len(c) for c in counts] == [1] * len(appointments)
    assert await cluster.unpublished_events() == 0


async def test_killing_the_billing_replicas_mid_burst_loses_and_doubles_no_invoice(cluster: Cluster):
    async with Gateway(cluster.base) as gateway:
        appointments = await book_visits(gateway, 40)
        first, second = appointments[:20], appointments[20:]
        await complete_all(gateway, first)

        async def billing_at_work() -> bool:
            return bool(await gateway.invoices_of(first[0]) or await gateway.invoices_of(first[-1]))

        await eventually("billing to start invoicing the burst", billing_at_work)
        cluster.kill("billing-1", "billing-2")  # SIGKILL, both replicas, in the middle of their work
        await complete_all(gateway, second)  # scheduling runs in another process: completions still commit
        cluster.start("billing-1", "billing-2")
        await invoiced_once(gateway, cluster, appointments)


def test_a_relay_killed_between_publish_and_mark_delivers_the_event_once(tmp_path: Path):
    require_servers()
    with running_cluster(tmp_path, start=False) as cluster:
        # One process with its relay and consumers off writes a completed visit: its events wait in the outbox.
        cluster.start("all", env={"CAREMESH_RUN_WORKERS": "false"})
        appointments = asyncio.run(_one_completed_visit(cluster.url("all")))
        cluster.terminate("all")
        pending = asyncio.run(cluster.unpublished_events())
        assert pending > 0

        # A relay publishes them through JetStream and is killed before its transaction marks them published.
        env = cluster.env | {"CAREMESH_RELAY_BATCH_SIZE": "1000"}
        died = subprocess.run(
            [sys.executable, "-m", "tests.distributed.relay_dies_after_publish"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
        assert asyncio.run(cluster.stream_messages()) == pending  # in the stream...
        assert asyncio.run(cluster.unpublished_events()) == pending  # ...and still unmarked in the outbox

        # Normal processes start: their relays publish the same events again; JetStream drops the duplicates.
        cluster.start(*GROUPS)
        cluster.start_gateway()

        async def check() -> None:
            async with Gateway(cluster.base) as gateway:
                await invoiced_once(gateway, cluster, appointments)
            # each event once in the stream: the republished ones were dropped, the invoice's are new
            assert await cluster.stream_messages() == await cluster.outbox_events()

        asyncio.run(check())


async def _one_completed_visit(base: str) -> list[str]:
    async with Gateway(base) as gateway:
        appointments = await book_visits(gateway, 1)
        await complete_all(gateway, appointments)
        return appointments


def test_stopping_nats_during_a_burst_loses_no_event(tmp_path: Path):
    require_servers()
    with nats_server(tmp_path) as nats, running_cluster(tmp_path, broker_url=nats.url) as cluster:

        async def run() -> None:
            async with Gateway(cluster.base) as gateway:
                appointments = await book_visits(gateway, 30)
                await complete_all(gateway, appointments[:10])
                nats.kill()  # SIGKILL: the broker is gone mid-burst

                def broker_down() -> bool:
                    ready = httpx.get(f"{cluster.url('billing-1')}/health/ready", timeout=5)
                    return ready.status_code == 503 and ready.json()["checks"]["broker"].startswith("unavailable")

                await eventually("/health/ready to report the broker down", _threaded(broker_down))
                await complete_all(gateway, appointments[10:])  # requests still commit...
                assert await cluster.unpublished_events() > 0  # ...their events wait in the outbox

                await asyncio.to_thread(nats.start)  # the same port and store directory
                await invoiced_once(gateway, cluster, appointments)

                def ready() -> bool:
                    return httpx.get(f"{cluster.url('billing-1')}/health/ready", timeout=5).status_code == 200

                await eventually("/health/ready to recover", _threaded(ready))

        asyncio.run(run())


def _threaded(check):  # a blocking check, run off the event loop
    async def run() -> bool:
        return await asyncio.to_thread(check)

    return run
