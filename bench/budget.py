"""Where the CPU of one operation goes, and the rate that this bounds on this machine (PostgreSQL).

For each operation (a booking, an authenticated read by id and of a page of 20, a visit completed until its invoice
and notifications are done, a cash payment, a medication order until the saga confirms it, a claim created,
submitted and processed), BENCH_BUDGET_OPS operations run with 4 concurrent clients, then the background work they
caused (consumers, relay, audit sealer) settles. The CPU time used meanwhile is read from /proc for the server's
processes, for every PostgreSQL process, and for this load generator, less what the server and the database use
when idle over the same time. Their sum is the CPU one operation costs the machine; `cores * 1000 / sum` is the most
operations per second the machine could do with every core busy and no waiting at all: a rate goal above it cannot
be met by removing locks or waits, only by spending less CPU.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

import httpx

from bench.booking import drop_schema, plan, run_concurrently, setup
from bench.claims import insure
from bench.server import Server, admin_session, backends, own_schema, running_server

OPS = int(os.environ.get("BENCH_BUDGET_OPS", "100"))
CLIENTS = 4
SETTLE_SECONDS = 3.0
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Goals of issue 13 on PostgreSQL, per second.
GOALS = {"booking": 400, "read by id": 700, "payment (cash)": 300, "order (saga)": 60, "claim": 60}

Job = Callable[[], Awaitable[None]]


def database_cpu_seconds() -> float:
    """User + system CPU seconds of every PostgreSQL process alive now."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = entry.read_text().rpartition(")")
        except OSError:
            continue
        if head.split("(", 1)[1].startswith("postgres"):
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class Meter:
    """CPU seconds of the server, the database and this process since `start`, less the idle rates."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.idle_server = self.idle_database = 0.0

    def _read(self) -> tuple[float, float, float, float]:
        return self.server.cpu_seconds(), database_cpu_seconds(), time.process_time(), time.monotonic()

    async def calibrate(self) -> None:
        before = self._read()
        await asyncio.sleep(SETTLE_SECONDS)
        after = self._read()
        self.idle_server = (after[0] - before[0]) / (after[3] - before[3])
        self.idle_database = (after[1] - before[1]) / (after[3] - before[3])

    async def per_operation(self, jobs: list[Job]) -> tuple[float, float, float]:
        """Milliseconds of server, database and client CPU per job."""
        before = self._read()
        await run_concurrently(jobs, CLIENTS)
        await asyncio.sleep(SETTLE_SECONDS)
        after = self._read()
        seconds = after[3] - before[3]
        server = after[0] - before[0] - self.idle_server * seconds
        database = after[1] - before[1] - self.idle_database * seconds
        client = after[2] - before[2]
        return tuple(max(value, 0.0) * 1000 / len(jobs) for value in (server, database, client))  # type: ignore[return-value]


class Operations:
    """Builds each operation's jobs; state (patients, appointments, invoices) carries from one to the next."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers
        self.practitioners: list[str] = []
        self.patients: list[str] = []
        self.appointments: list[str] = []
        self.invoices: list[str] = []
        self.day = date.today() + timedelta(days=60)
        self.medication = ""
        self.orders: list[str] = []

    async def prepare(self) -> None:
        self.practitioners, self.patients = await setup(self.client, self.headers)
        await insure(self.client, self.headers, self.patients, uuid.uuid4().hex[:6])
        body = {"code": f"BUDGET-{uuid.uuid4().hex[:6]}", "name": "Budget tablet", "unit": "tablet"}
        medication = await self._post("/medications", {**body, "unit_price": "4.75", "stock_quantity": 1_000_000})
        self.medication = medication["id"]

    async def _post(self, path: str, body: dict | None = None, **headers: str) -> dict:
        response = await self.client.post(f"/api/v1{path}", json=body, headers={**self.headers, **headers})
        if response.is_error:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    async def _get(self, path: str, **params: str) -> dict:
        response = await self.client.get(f"/api/v1{path}", params=params, headers=self.headers)
        response.raise_for_status()
        return response.json()

    def booking(self) -> list[Job]:
        self.day += timedelta(days=7)
        booked: list[str] = []
        self.appointments = booked

        def book(practitioner: int, patient: int, start: object) -> Job:
            async def run() -> None:
                body = {
                    "patient_id": self.patients[patient],
                    "practitioner_id": self.practitioners[practitioner],
                    "start": start.isoformat(),  # type: ignore[attr-defined]
                }
                booked.append((await self._post("/appointments", body))["id"])

            return run

        return [book(*entry) for entry in plan(self.day, OPS)]

    def read_by_id(self) -> list[Job]:
        return [self._reader(f"/patients/{self.patients[i % len(self.patients)]}") for i in range(OPS)]

    def read_page(self) -> list[Job]:
        return [self._reader("/patients", limit="20") for _ in range(OPS)]

    def _reader(self, path: str, **params: str) -> Job:
        async def run() -> None:
            await self._get(path, **params)

        return run

    def completion(self) -> list[Job]:
        def complete(appointment: str) -> Job:
            async def run() -> None:
                await self._post(f"/appointments/{appointment}/complete")

            return run

        return [complete(a) for a in self.appointments]

    async def find_invoices(self) -> None:
        self.invoices = []
        for appointment in self.appointments:
            items = (await self._get("/invoices", appointment_id=appointment))["items"]
            self.invoices += [invoice["id"] for invoice in items]
        if len(self.invoices) != len(self.appointments):
            raise RuntimeError(f"{len(self.invoices)} invoices for {len(self.appointments)} completed visits")

    def payment(self) -> list[Job]:
        def pay(invoice: str) -> Job:
            async def run() -> None:
                body = {"invoice_id": invoice, "amount": "1.00", "method": "cash"}
                await self._post("/payments", body, **{"Idempotency-Key": str(uuid.uuid4())})

            return run

        return [pay(invoice) for invoice in self.invoices]

    def order(self) -> list[Job]:
        placed: list[str] = []
        self.orders = placed

        def place(patient: str, practitioner: str) -> Job:
            async def run() -> None:
                body = {
                    "patient_id": patient,
                    "practitioner_id": practitioner,
                    "type": "prescription",
                    "items": [{"medication_id": self.medication, "quantity": 1}],
                }
                placed.append((await self._post("/orders", body))["id"])

            return run

        count = len(self.patients)
        return [place(self.patients[i % count], self.practitioners[i % len(self.practitioners)]) for i in range(OPS)]

    async def check_orders(self) -> None:
        """Every order placed was confirmed by the saga (in the background, before the meter stopped)."""
        for order_id in self.orders:
            order = await self._get(f"/orders/{order_id}")
            if order["status"] != "confirmed":
                raise RuntimeError(f"order {order_id} is {order['status']} after the settling time")

    def claim(self) -> list[Job]:
        def claim(invoice: str) -> Job:
            async def run() -> None:
                created = await self._post("/claims", {"invoice_id": invoice, "diagnosis_codes": ["I10"]})
                for step in ("submit", "process"):
                    await self._post(f"/claims/{created['id']}/{step}")

            return run

        return [claim(invoice) for invoice in self.invoices]


async def main() -> None:
    cores = os.cpu_count() or 1
    print(
        f"\nCPU budget (PostgreSQL): {ROUNDS} rounds of {OPS} of each operation, {CLIENTS} concurrent clients, "
        f"{cores} CPUs; ms of CPU per operation, medians over rounds"
    )
    backend = own_schema(next(b for b in backends(Path(tempfile.mkdtemp())) if b.name == "postgres"), "budget")
    settings = {"CAREMESH_CLAIM_DUPLICATE_WINDOW_HOURS": "0"}
    results: dict[str, list[tuple[float, float, float]]] = {}
    async with running_server(backend.db, settings) as server, admin_session(server, CLIENTS) as (client, headers):
        operations = Operations(client, headers)
        await operations.prepare()
        meter = Meter(server)
        for _round in range(ROUNDS):
            await meter.calibrate()
            steps: list[tuple[str, Callable[[], list[Job]]]] = [
                ("booking", operations.booking),
                ("read by id", operations.read_by_id),
                ("read a page of 20", operations.read_page),
                ("visit completed", operations.completion),
            ]
            for name, jobs in steps:
                results.setdefault(name, []).append(await meter.per_operation(jobs()))
            await operations.find_invoices()
            for name, jobs in (("payment (cash)", operations.payment), ("claim", operations.claim)):
                results.setdefault(name, []).append(await meter.per_operation(jobs()))
            results.setdefault("order (saga)", []).append(await meter.per_operation(operations.order()))
            await operations.check_orders()
    await drop_schema(backend)
    print(f"{'operation':<20} {'server':>8} {'database':>9} {'client':>8} {'total':>8} {'bound/s':>9} {'goal/s':>7}")
    for name, rounds in results.items():
        server, database, client = (statistics.median(r[i] for r in rounds) for i in range(3))
        total = server + database + client
        goal = GOALS.get(name)
        print(
            f"{name:<20} {server:>8.2f} {database:>9.2f} {client:>8.2f} {total:>8.2f} {cores * 1000 / total:>9.0f}"
            f" {goal if goal else '':>7}"
        )
    print(
        "server: the caremesh process, its consumers, relay and audit sealer included; database: every PostgreSQL\n"
        "process; client: this load generator (bench/lean.py, or httpx with BENCH_CLIENT=httpx).\n"
        "bound: cores * 1000 / total, the rate at which the machine's cores would all be busy with this operation\n"
        "alone. A goal above its bound needs less CPU per operation."
    )
