"""From a completed visit to a paid invoice, through a real `caremesh serve`, on SQLite and PostgreSQL.

- visit completed -> invoice issued: the time between the appointment's `completed_at` and its
  invoice's `issued_at` (both stamped by the server's clock), with completions arriving from
  concurrent clients while the billing consumer runs in the background;
- payments per second: cash and card (`tok_visa`, through the simulated gateway) payments with
  concurrent clients, each with its own Idempotency-Key;
- baseline: the round's payment rows inserted again straight through the driver, in the same run (baseline.py).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

import httpx

from bench.baseline import Rows, copy_rows, serial
from bench.booking import on_each_backend, percentile, plan, run_concurrently, setup, spread
from bench.server import Backend, admin_session, print_table, running_server

VISITS = int(os.environ.get("BENCH_VISITS", "300"))
SINGLE_VISITS = 20  # of each round's visits, completed one at a time
SETTLE_SECONDS = 10.0
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
INVOICE_WAIT_SECONDS = 120


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def _book(
    client: httpx.AsyncClient, headers: dict[str, str], bookings: list[tuple[str, str, datetime]]
) -> list[str]:
    ids: list[str] = []

    def job(patient: str, practitioner: str, start: datetime) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            body = {"patient_id": patient, "practitioner_id": practitioner, "start": start.isoformat()}
            response = await client.post("/api/v1/appointments", json=body, headers=headers)
            response.raise_for_status()
            ids.append(response.json()["id"])

        return run

    await run_concurrently([job(*booking) for booking in bookings], CLIENTS)
    return ids


async def book_round(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    practitioners: list[str],
    patients: list[str],
    day: date,
    visits: int,
) -> list[str]:
    """Book a round's visits on `day`, then let the consumers catch up with the bookings' events."""
    bookings = [(patients[pa], practitioners[pr], start) for pr, pa, start in plan(day, visits)]
    appointments = await _book(client, headers, bookings)
    await asyncio.sleep(SETTLE_SECONDS)
    return appointments


async def complete_round(
    client: httpx.AsyncClient, headers: dict[str, str], appointments: list[str]
) -> tuple[list[float], list[dict]]:
    """Complete every appointment concurrently; return completed->issued latencies and the invoices."""

    def job(appointment_id: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            response = await client.post(f"/api/v1/appointments/{appointment_id}/complete", headers=headers)
            response.raise_for_status()
            completed_at[appointment_id] = _parse(response.json()["completed_at"])

        return run

    completed_at: dict[str, datetime] = {}
    await run_concurrently([job(a) for a in appointments], CLIENTS)
    invoices: dict[str, dict] = {}
    deadline = time.monotonic() + INVOICE_WAIT_SECONDS
    while len(invoices) < len(appointments):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(invoices)} of {len(appointments)} invoices appeared")
        for appointment_id in appointments:
            if appointment_id in invoices:
                continue
            response = await client.get("/api/v1/invoices", params={"appointment_id": appointment_id}, headers=headers)
            response.raise_for_status()
            items = response.json()["items"]
            if items:
                invoices[appointment_id] = items[0]
        await asyncio.sleep(0.05)
    latencies = [(_parse(invoices[a]["issued_at"]) - completed_at[a]).total_seconds() for a in appointments]
    return latencies, list(invoices.values())


async def one_at_a_time(client: httpx.AsyncClient, headers: dict[str, str], appointments: list[str]) -> list[float]:
    """Complete visits one by one, waiting for each invoice: the latency a single clinic desk sees."""
    latencies = []
    for appointment_id in appointments:
        latency, _ = await complete_round(client, headers, [appointment_id])
        latencies.extend(latency)
    return latencies


PAYMENTS = Rows("payments", "payments", fresh={"reference": lambda _: f"BX-{next(serial):012d}"})


async def pay_round(
    client: httpx.AsyncClient, headers: dict[str, str], invoices: list[dict], paid: list[str] | None = None
) -> tuple[float, list[float]]:
    """Pay each invoice in full, alternately in cash and by card; the payments' ids go to `paid`."""
    failures: list[str] = []

    def job(index: int, invoice: dict) -> Callable[[], Awaitable[None]]:
        body = {"invoice_id": invoice["id"], "amount": invoice["balance_due"], "method": "cash"}
        if index % 2:
            body.update(method="card", card_token="tok_visa")

        async def run() -> None:
            response = await client.post(
                "/api/v1/payments", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
            )
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")
            elif paid is not None:
                paid.append(response.json()["id"])

        return run

    elapsed, latencies = await run_concurrently([job(i, inv) for i, inv in enumerate(invoices)], CLIENTS)
    if failures:
        raise RuntimeError(f"{len(failures)} payments failed, e.g. {failures[0]}")
    return elapsed, latencies


async def measure(backend: Backend, first_day: date) -> str:
    issue_latencies: list[float] = []
    single_latencies: list[float] = []
    pay_rates, pay_latencies, direct_rates = [], [], []
    async with running_server(backend.db) as server, admin_session(server, CLIENTS) as (client, headers):
        practitioners, patients = await setup(client, headers)
        for round_index in range(ROUNDS):
            day = first_day + timedelta(weeks=8 * round_index)
            appointments = await book_round(client, headers, practitioners, patients, day, VISITS)
            single_latencies.extend(await one_at_a_time(client, headers, appointments[:SINGLE_VISITS]))
            latencies, invoices = await complete_round(client, headers, appointments[SINGLE_VISITS:])
            issue_latencies.extend(latencies)
            paid: list[str] = []
            elapsed, round_latencies = await pay_round(client, headers, invoices, paid)
            pay_rates.append(len(invoices) / elapsed)
            # the visits completed one at a time are left unpaid
            pay_latencies.extend(round_latencies)
            direct_rates.append(len(paid) / await copy_rows(backend, PAYMENTS, paid, CLIENTS))
    pay, baseline = statistics.median(pay_rates), statistics.median(direct_rates)
    return (
        f"{backend.name:<10} {percentile(single_latencies, 50) * 1000:>9.1f}"
        f" {percentile(single_latencies, 99) * 1000:>9.1f}"
        f" {percentile(issue_latencies, 50) * 1000:>9.1f}"
        f" {percentile(issue_latencies, 99) * 1000:>9.1f}"
        f" {spread(pay_rates):>17} {percentile(pay_latencies, 50) * 1000:>8.1f}"
        f" {percentile(pay_latencies, 99) * 1000:>8.1f} {spread(direct_rates):>20} {pay / baseline:>10.3f}"
    )


async def main() -> None:
    print(
        f"\nbilling benchmark: {ROUNDS} rounds of {VISITS} visits completed and paid (half cash, half card), "
        f"{CLIENTS} concurrent clients, {os.cpu_count()} CPUs; rates are medians (min-max) over the rounds"
    )
    rows = await on_each_backend(measure)
    columns = (
        ("one p50 ms", 9),
        ("one p99 ms", 9),
        ("burst p50", 9),
        ("burst p99", 9),
        ("payments/s", 17),
        ("p50 ms", 8),
        ("p99 ms", 8),
        ("driver payments/s", 20),
        ("pay/driver", 10),
    )
    print_table(columns, rows)
    print(
        "appointment completed_at -> invoice issued_at (both stamped by the server): 'one' completes visits one at\n"
        f"a time ({SINGLE_VISITS} a round); 'burst' completes the rest with {CLIENTS} clients at once, so it includes\n"
        "the queue in front of the billing consumer"
    )
