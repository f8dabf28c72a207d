"""`caremesh up`: a local distributed topology in one command. The contexts run as separate `caremesh serve
--contexts` processes (some as replicas) on one database, behind nginx configured by `caremesh gateway`.
With a broker (NATS JetStream) every process publishes and consumes through it, in one namespace, on
PostgreSQL; without one they pass events through the database's tables. The processes are supervised: when
one stops, or the command is interrupted, everything stops.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from caremesh.contexts import CONTEXTS
from caremesh.contexts import select as select_contexts
from caremesh.gateway import Limits, Route, render
from caremesh.platform.settings import MessagingSettings, Settings

# The people-facing contexts (and the medical record) in one process; money and clinical orders, where the load is,
# in two replicas. Under a sustained burst on one machine, give the front `@10` (`serve --nice 10`) so that the
# consumers finishing its work (invoices, the saga) never fall behind it (README, Performance).
DEFAULT_PROCESSES = (
    "identity,audit,patients,facilities,practitioners,scheduling,records,fhir",
    "billing,payments,insurance,pharmacy,lab,imaging,orders,claims,notifications*2",
)


class TopologyProblem(ValueError):
    pass


@dataclass(frozen=True)
class Process:
    name: str
    contexts: tuple[str, ...]
    port: int
    nice: int = 0  # how much lower its CPU priority is (`serve --nice`)

    def serve_arguments(self) -> tuple[str, ...]:
        """`caremesh serve ...` for this process (migrations are the caller's)."""
        serve = ("serve", "--no-migrate", "--contexts", ",".join(self.contexts), "--port", str(self.port))
        return (*serve, "--nice", str(self.nice)) if self.nice else serve


def plan(specs: Sequence[str], first_port: int) -> list[Process]:
    """`CTX,CTX[*REPLICAS][@NICE]` per process group → the processes, on consecutive ports; every context once.
    `@NICE` (1-19) starts the group's processes with that much lower CPU priority."""
    processes: list[Process] = []
    seen: set[str] = set()
    for group, full_spec in enumerate(specs, start=1):
        spec, _, nice = full_spec.partition("@")
        if nice and not (nice.strip().isdigit() and 1 <= int(nice) <= 19):
            raise TopologyProblem(f"@NICE is a number from 1 to 19: {full_spec!r}")
        names, _, replicas = spec.partition("*")
        try:
            contexts = select_contexts(names)
        except ValueError as error:
            raise TopologyProblem(str(error)) from None
        if not replicas.strip().isdigit() and replicas:
            raise TopologyProblem(f"replicas are a number: {spec!r}")
        if twice := seen & set(contexts):
            raise TopologyProblem(f"{', '.join(sorted(twice))} named in two groups; use *N for replicas")
        seen |= set(contexts)
        for replica in range(1, int(replicas or 1) + 1):
            processes.append(Process(f"group{group}-{replica}", contexts, first_port + len(processes), int(nice or 0)))
    if missing := [name for name in CONTEXTS if name not in seen]:
        raise TopologyProblem(f"no process serves: {', '.join(missing)}")
    return processes


def broker_environment(settings: Settings, broker: str | None, namespace: str) -> dict[str, str]:
    """The variables every process gets so that they all use one broker and namespace (or none); checks that the
    broker is a NATS URL, the database PostgreSQL, and that the broker answers."""
    if not broker:
        return {"CAREMESH_BROKER_URL": ""}
    if not broker.startswith(("nats://", "tls://")):
        raise TopologyProblem(f"the broker is a NATS URL (nats://HOST:PORT), not {broker!r}")
    if settings.db.is_sqlite:
        raise TopologyProblem(
            "the distributed mode on NATS runs on PostgreSQL: set CAREMESH_DATABASE_URL=postgresql+asyncpg://..."
        )
    try:
        messaging = MessagingSettings(broker_url=broker, broker_namespace=namespace)
    except ValueError:
        raise TopologyProblem(f"the namespace is letters, digits, - and _, not {namespace!r}") from None
    from caremesh.platform.messaging.jetstream import JetStreamBroker

    async def probe() -> str:
        client = JetStreamBroker(messaging, name="caremesh-up")
        try:
            return await client.status()
        finally:
            await client.close()

    if (status := asyncio.run(probe())) != "ok":
        raise TopologyProblem(f"the broker at {broker} does not answer ({status}); is nats-server -js running?")
    return {"CAREMESH_BROKER_URL": broker, "CAREMESH_BROKER_NAMESPACE": namespace}


def _caremesh(*args: str) -> list[str]:
    return [sys.executable, "-c", "from caremesh.cli import main; main()", *args]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(port: int, child: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not _answers(port):
        if child.poll() is not None:
            raise TopologyProblem(f"{what} stopped at start (exit status {child.returncode})")
        if time.monotonic() > deadline:
            raise TopologyProblem(f"{what} did not answer on port {port} within {seconds:.0f} s")
        time.sleep(0.2)


def up(
    listen: str,
    processes: Sequence[Process],
    workdir: Path,
    limits: Limits,
    say: Callable[[str], None],
    *,
    environment: dict[str, str] | None = None,
) -> int:
    """Start every process and nginx, then wait; returns the exit status."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        raise TopologyProblem("nginx is not installed (Debian: apt-get install nginx)")
    workdir = workdir.resolve()  # nginx reads -c relative to its prefix
    workdir.mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen] = {}

    def stop(*_: object) -> None:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    previous = signal.signal(signal.SIGTERM, _interrupt)  # stop like Ctrl-C does
    try:
        for process in processes:
            say(f"starting {process.name} ({','.join(process.contexts)}) on 127.0.0.1:{process.port}")
            serve = process.serve_arguments()
            children[process.name] = subprocess.Popen(_caremesh(*serve), env=os.environ | (environment or {}))  # noqa: S603
        for process in processes:
            _wait_for(process.port, children[process.name], process.name)
        routes = [Route(process.contexts, f"127.0.0.1:{process.port}") for process in processes]
        config = workdir / "gateway.conf"
        config.write_text(render(listen, routes, limits))
        command = [nginx, "-p", str(workdir), "-c", str(config), "-e", "stderr", "-g", "daemon off;"]
        children["nginx"] = subprocess.Popen(command)  # noqa: S603 (nginx with our configuration)
        _wait_for(int(listen.rpartition(":")[2]), children["nginx"], "nginx")
        say(f"caremesh is up behind nginx at http://{listen} (gateway configuration: {config}); Ctrl-C stops it")
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    say(f"{name} stopped (exit status {child.returncode}): stopping everything")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt
