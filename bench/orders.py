"""Clinical orders through the whole saga, through a real `caremesh serve`, on SQLite and PostgreSQL.

- orders per second: prescriptions placed by concurrent clients, counted from the first order's `created_at`
  to the last one's `confirmed_at` (both stamped by the server): placing, pharmacy's reservation, billing's
  invoice and the confirmation, with the consumers running in the background as in production;
- saga latency: each order's `confirmed_at - created_at`, for orders placed one at a time ('one') and for the
  burst above ('burst', which includes the queue in front of the consumers);
- baseline: the burst's orders (with their items and saga steps) inserted again straight through the driver,
  in the same run (baseline.py).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime

import httpx

from bench.baseline import Rows, copy_rows, serial
from bench.booking import on_each_backend, percentile, run_concurrently, setup, spread
from bench.server import Backend, admin_session, print_table, running_server

ORDERS = int(os.environ.get("BENCH_ORDERS", "200"))
SINGLE_ORDERS = 20  # of each round, placed one at a time
MEDICATIONS = 10
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONFIRM_WAIT_SECONDS = 180
ORDERS_ROWS = Rows(
    "orders",
    "orders",
    children=(("order_items", "order_id"), ("order_events", "order_id")),
    fresh={"number": lambda _: f"BX-{next(serial):012d}"},
)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


async def stock(client: httpx.AsyncClient, headers: dict[str, str], round_index: int) -> list[str]:
    """Medications with stock for every order of the round."""
    ids = []
    for index in range(MEDICATIONS):
        body = {
            "code": f"BENCH-{round_index}-{index}",
            "name": f"Bench medication {index}",
            "unit": "tablet",
            "unit_price": "4.75",
            "stock_quantity": ORDERS * 3,
        }
        response = await client.post("/api/v1/medications", json=body, headers=headers)
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


async def wait_confirmed(client: httpx.AsyncClient, headers: dict[str, str], order_ids: list[str]) -> list[dict]:
    orders: dict[str, dict] = {}
    deadline = time.monotonic() + CONFIRM_WAIT_SECONDS
    while len(orders) < len(order_ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(orders)} of {len(order_ids)} orders were confirmed")
        for order_id in order_ids:
            if order_id in orders:
                continue
            response = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
            response.raise_for_status()
            order = response.json()
            if order["status"] == "confirmed":
                orders[order_id] = order
            elif order["status"] != "pending":
                raise RuntimeError(f"order {order_id} ended {order['status']} ({order['failure_reason']})")
        await asyncio.sleep(0.05)
    return [orders[o] for o in order_ids]


async def place_round(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    bodies: list[dict],
    clients: int,
) -> list[dict]:
    ids: list[str] = []

    def job(body: dict) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            response = await client.post("/api/v1/orders", json=body, headers=headers)
            response.raise_for_status()
            ids.append(response.json()["id"])

        return run

    await run_concurrently([job(b) for b in bodies], clients)
    return await wait_confirmed(client, headers, ids)


def _latencies(orders: list[dict]) -> list[float]:
    return [(_parse(o["confirmed_at"]) - _parse(o["created_at"])).total_seconds() for o in orders]


async def measure(backend: Backend, first_day: date) -> str:
    single, burst, rates, direct_rates = [], [], [], []
    async with running_server(backend.db) as server, admin_session(server, CLIENTS) as (client, headers):
        practitioners, patients = await setup(client, headers)
        for round_index in range(ROUNDS):
            medications = await stock(client, headers, round_index)
            bodies = [
                {
                    "patient_id": patients[i % len(patients)],
                    "practitioner_id": practitioners[i % len(practitioners)],
                    "type": "prescription",
                    "items": [
                        {"medication_id": medications[i % MEDICATIONS], "quantity": 2},
                        {"medication_id": medications[(i + 1) % MEDICATIONS], "quantity": 1},
                    ],
                }
                for i in range(ORDERS)
            ]
            for body in bodies[:SINGLE_ORDERS]:
                single.extend(_latencies(await place_round(client, headers, [body], 1)))
            confirmed = await place_round(client, headers, bodies[SINGLE_ORDERS:], CLIENTS)
            burst.extend(_latencies(confirmed))
            first = min(_parse(o["created_at"]) for o in confirmed)
            last = max(_parse(o["confirmed_at"]) for o in confirmed)
            rates.append(len(confirmed) / (last - first).total_seconds())
            ids = [order["id"] for order in confirmed]
            direct_rates.append(len(ids) / await copy_rows(backend, ORDERS_ROWS, ids, CLIENTS))
    rate, baseline = statistics.median(rates), statistics.median(direct_rates)
    return (
        f"{backend.name:<10} {spread(rates):>17} {percentile(single, 50) * 1000:>9.1f}"
        f" {percentile(single, 99) * 1000:>9.1f} {percentile(burst, 50) * 1000:>9.1f}"
        f" {percentile(burst, 99) * 1000:>9.1f} {spread(direct_rates):>20} {rate / baseline:>12.3f}"
    )


async def main() -> None:
    print(
        f"\norders benchmark: {ROUNDS} rounds of {ORDERS} two-item prescriptions through the saga (reserve, invoice,"
        f" confirm), {CLIENTS} concurrent clients, {os.cpu_count()} CPUs; rates are medians (min-max) over the rounds"
    )
    rows = await on_each_backend(measure)
    columns = (
        ("orders/s", 17),
        ("one p50 ms", 9),
        ("one p99 ms", 9),
        ("burst p50", 9),
        ("burst p99", 9),
        ("driver orders/s", 20),
        ("orders/driver", 12),
    )
    print_table(columns, rows)
    print(
        "order created_at -> confirmed_at (both stamped by the server): 'one' places orders one at a time\n"
        f"({SINGLE_ORDERS} a round); 'burst' places the rest with {CLIENTS} clients at once, so it includes the queue\n"
        "in front of the consumers; orders/s counts the burst from its first order placed to its last confirmed"
    )
