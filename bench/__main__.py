"""`python -m bench [FLOW ...]`: every flow (or those named), each on SQLite and PostgreSQL (BENCH_BACKENDS)."""

import asyncio
import os
import shlex
import subprocess
import sys

from bench import billing, booking, budget, ceiling, claims, distributed, orders, reads

FLOWS = {
    "booking": booking.main,
    "reads": reads.main,
    "billing": billing.main,
    "orders": orders.main,
    "claims": claims.main,
    "distributed": distributed.main,
    "ceiling": ceiling.main,
    "budget": budget.main,
}


def command() -> str:
    """The command that produced this run: the benchmark's environment variables, then the program and its flows."""
    settings = [
        f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items()) if k.startswith(("BENCH_", "CAREMESH_BENCH_"))
    ]
    return " ".join([*settings, "python -m bench", *map(shlex.quote, sys.argv[1:])])


def revision() -> str:
    found = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


if __name__ == "__main__":
    unknown = [name for name in sys.argv[1:] if name not in FLOWS]
    if unknown:
        sys.exit(f"unknown flow(s): {', '.join(unknown)}; choose from {', '.join(FLOWS)}")
    print(f"command: {command()}  (revision {revision()}, {os.cpu_count()} CPUs)")
    for name in sys.argv[1:] or FLOWS:
        asyncio.run(FLOWS[name]())
