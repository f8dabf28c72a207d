"""Insurance claims from invoice to payment, through a real `caremesh serve`, on SQLite and PostgreSQL.

- claims per second: for each invoice, a client creates the claim, submits it and has it adjudicated (three
  requests), with concurrent clients; once with every claim on its own coverage ('spread') and once with all of them
  on one coverage ('one coverage'), whose row lock makes adjudications of one member take turns;
- remittance: one payer remittance posting every approved claim of the round (items per second), and the same
  remittance sent again (a replay that posts nothing);
- baseline: the 'spread' claims (with their lines and history) inserted again straight through the driver, in
  the same run (baseline.py).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

import httpx

from bench.baseline import Rows, copy_rows, serial
from bench.billing import _book, complete_round
from bench.booking import (
    on_each_backend,
    percentile,
    plan,
    run_concurrently,
    setup,
    spread,
    weekday_slots,
)
from bench.server import Backend, admin_session, print_table, running_server

CLAIMS = int(os.environ.get("BENCH_CLAIMS", "200"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Bench visits repeat patient, practitioner and price on one day; the duplicate rule is not what is measured here.
SERVER_SETTINGS = {"CAREMESH_CLAIM_DUPLICATE_WINDOW_HOURS": "0"}
# A copy names another invoice: one open claim per invoice.
CLAIMS_ROWS = Rows(
    "claims",
    "claims",
    children=(("claim_lines", "claim_id"), ("claim_history", "claim_id")),
    fresh={"number": lambda _: f"BX-{next(serial):012d}", "invoice_id": lambda _: uuid.uuid4()},
)


async def insure(client: httpx.AsyncClient, headers: dict[str, str], patients: list[str], tag: str) -> None:
    """One payer and scheme (80 % of consultations, a deductible and an annual limit, so accumulators move) and a
    coverage for every patient."""

    async def post(path: str, body: dict) -> dict:
        response = await client.post(f"/api/v1{path}", json=body, headers=headers)
        response.raise_for_status()
        return response.json()

    payer = await post("/payers", {"code": f"BENCH-{tag}", "name": f"Bench payer {tag}"})
    scheme = await post("/schemes", {"payer_id": payer["id"], "code": "BENCH", "name": "Bench scheme"})
    benefit = {
        "category": "consultation",
        "coverage_percent": "80.00",
        "copay_amount": "0.00",
        "deductible": "100.00",
        "annual_limit": "10000000.00",
        "requires_preauth": False,
    }
    await post(f"/schemes/{scheme['id']}/benefits", benefit)
    for index, patient in enumerate(patients):
        body = {
            "patient_id": patient,
            "scheme_id": scheme["id"],
            "member_id": f"B{tag}-{index}",
            "valid_from": "2000-01-01",
        }
        await post("/coverages", body)


def claim_body(invoice: dict) -> dict:
    """The claim of an invoice: its diagnosis given (the bench's visits record none; a claim needs one)."""
    return {"invoice_id": invoice["id"], "diagnosis_codes": ["I10"]}


async def claim_round(
    client: httpx.AsyncClient, headers: dict[str, str], invoices: list[dict]
) -> tuple[float, list[float], list[dict]]:
    claims: list[dict] = []

    def job(invoice: dict) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            response = await client.post("/api/v1/claims", json=claim_body(invoice), headers=headers)
            response.raise_for_status()
            claim_id = response.json()["id"]
            for step in ("submit", "process"):
                response = await client.post(f"/api/v1/claims/{claim_id}/{step}", headers=headers)
                if response.is_error:
                    raise RuntimeError(f"claim {step} answered {response.status_code}: {response.text[:300]}")
            claims.append(response.json())

        return run

    elapsed, latencies = await run_concurrently([job(i) for i in invoices], CLIENTS)
    return elapsed, latencies, claims


async def remit(
    client: httpx.AsyncClient, headers: dict[str, str], claims: list[dict], tag: str
) -> tuple[float, float]:
    body = {
        "remittance_id": f"EFT-{tag}",
        "payer_code": claims[0]["payer_code"],
        "items": [
            {"claim_number": c["number"], "paid_amount": c["approved_amount"], "adjustment_codes": []}
            for c in claims
            if c["status"] in ("approved", "partially_approved")
        ],
    }
    timings = []
    for expected in (201, 200):
        started = time.perf_counter()
        response = await client.post("/api/v1/reconciliation/process", json=body, headers=headers)
        timings.append(time.perf_counter() - started)
        if response.status_code != expected:
            raise RuntimeError(f"remittance answered {response.status_code}: {response.text[:300]}")
    if response.json()["unmatched"]:
        raise RuntimeError(f"unmatched items: {response.json()['unmatched'][:3]}")
    return len(body["items"]) / timings[0], timings[1]


def visits(practitioners: list[str], patients: list[str], day: date) -> dict[str, list[tuple[str, str, datetime]]]:
    """A round's visits: spread over every patient, and all of one patient's (one per slot, so they never overlap)."""
    spread_out = [(patients[p], practitioners[d], start) for d, p, start in plan(day, CLAIMS)]
    one_patient = [(patients[0], practitioners[0], start) for start in weekday_slots(day + timedelta(weeks=3), CLAIMS)]
    return {"spread": spread_out, "one coverage": one_patient}


async def measure(backend: Backend, first_day: date) -> str:
    rates: dict[str, list[float]] = {"spread": [], "one coverage": []}
    latencies, remit_rates, replays, direct_rates = [], [], [], []
    async with (
        running_server(backend.db, SERVER_SETTINGS) as server,
        admin_session(server, CLIENTS) as (client, headers),
    ):
        practitioners, patients = await setup(client, headers)
        await insure(client, headers, patients, "B")
        for round_index in range(ROUNDS):
            day = first_day + timedelta(weeks=8 * round_index)
            for case, bookings in visits(practitioners, patients, day).items():
                _, invoices = await complete_round(client, headers, await _book(client, headers, bookings))
                elapsed, took, claims = await claim_round(client, headers, invoices)
                rates[case].append(len(claims) / elapsed)
                latencies.extend(took)
                items_per_second, replay = await remit(client, headers, claims, f"{round_index}-{case}")
                remit_rates.append(items_per_second)
                replays.append(replay)
                if case == "spread":
                    ids = [claim["id"] for claim in claims]
                    direct_rates.append(len(ids) / await copy_rows(backend, CLAIMS_ROWS, ids, CLIENTS))
    baseline = statistics.median(direct_rates)
    return (
        f"{backend.name:<10} {spread(rates['spread']):>17} {spread(rates['one coverage']):>17}"
        f" {percentile(latencies, 50) * 1000:>9.1f} {percentile(latencies, 99) * 1000:>9.1f}"
        f" {spread(remit_rates):>17} {statistics.median(replays) * 1000:>9.1f}"
        f" {spread(direct_rates):>20} {statistics.median(rates['spread']) / baseline:>12.3f}"
    )


async def main() -> None:
    print(
        f"\nclaims benchmark: {ROUNDS} rounds of {CLAIMS} visit claims created, submitted and adjudicated (3 requests"
        f" each), {CLIENTS} concurrent clients, {os.cpu_count()} CPUs; rates are medians (min-max) over the rounds"
    )
    rows = await on_each_backend(measure)
    columns = (
        ("claims/s spread", 17),
        ("claims/s one cov.", 17),
        ("claim p50", 9),
        ("claim p99", 9),
        ("remit items/s", 17),
        ("replay ms", 9),
        ("driver claims/s", 20),
        ("claims/driver", 12),
    )
    print_table(columns, rows)
    print(
        "'spread': every claim on its own patient's coverage; 'one cov.': all claims of one patient, whose coverage\n"
        "row lock serialises adjudication; claim p50/p99: the three requests of one claim (ms), both cases;\n"
        "remit: one remittance posting every approved claim of a round, then the same remittance replayed"
    )
