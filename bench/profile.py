"""Profile the server of one benchmark flow with py-spy: `python -m bench.profile booking [seconds]`.

Runs the flow (BENCH_ROUNDS=1 and BENCH_BACKENDS=postgres unless set) in a child process, attaches py-spy to the
`caremesh serve` it starts (and its worker processes) once the server is up, and prints where the server's
busy samples go: by layer (ours, SQLAlchemy, the database driver, FastAPI/Starlette, pydantic, uvicorn, the
event loop) and the functions with the most inclusive and self time. The raw profile is kept for flame graphs.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYERS = (
    ("caremesh", "(caremesh/"),
    ("sqlalchemy", "(sqlalchemy/"),
    ("driver (asyncpg, aiosqlite)", ("(asyncpg/", "(aiosqlite/", "(sqlite3/")),
    ("fastapi + starlette", ("(fastapi/", "(starlette/")),
    ("pydantic", ("(pydantic/", "(pydantic_core/")),
    ("uvicorn + httptools", ("(uvicorn/", "(httptools/")),
    ("logging (structlog)", "(structlog/"),
    ("json (orjson, json)", ("(orjson/", "(json/")),
    ("asyncio", "(asyncio/"),
)
# Start-up (imports, building the app, migrations) is not what a flow measures.
START_UP = ("_call_with_frames_removed", "create_app (", "(caremesh/platform/migrate.py")
IDLE = ("select (selectors.py", "_worker (concurrent/futures/thread.py", "Condition.wait", "Queue.get", "epoll")


def server_pids(parent: int) -> list[int]:
    """`caremesh serve` processes started by the benchmark process `parent`."""
    found = subprocess.run(["pgrep", "-f", "caremesh serve --no-migrate"], capture_output=True, text=True)
    pids = [int(pid) for pid in found.stdout.split()]
    return [pid for pid in pids if _descends_from(pid, parent)]


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def layer_of(frame: str) -> str | None:
    for name, needles in LAYERS:
        if any(needle in frame for needle in ((needles,) if isinstance(needles, str) else needles)):
            return name
    return None


def summarise(raw: Path, top: int = 25) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames, samples = stack.split(";"), int(count)
        if any(marker in frames[-1] for marker in IDLE) or any(m in f for f in frames for m in START_UP):
            continue
        busy += samples
        own[_short(frames[-1])] += samples
        # A sample's layer: the innermost frame that belongs to one.
        layers[next((name for f in reversed(frames) if (name := layer_of(f))), "other (stdlib, C)")] += samples
        for name in {_short(f) for f in frames if "(caremesh/" in f}:
            inclusive[name] += samples
    if not busy:
        return "no busy samples"
    lines = [f"busy samples: {busy}", "", "by layer (innermost frame):"]
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in layers.most_common()]
    lines += ["", f"caremesh functions, inclusive (top {top}):"]
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", f"self time (top {top}):"]
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(path.split('/')[-2:])})"


def main() -> None:
    flow = sys.argv[1] if len(sys.argv) > 1 else "booking"
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    env = {"BENCH_ROUNDS": "1", "BENCH_BACKENDS": "postgres", **os.environ}
    code = f"import asyncio; from bench import {flow}; asyncio.run({flow}.main())"
    bench = subprocess.Popen([sys.executable, "-c", code], env=env)
    pids: list[int] = []
    for _ in range(300):
        if bench.poll() is not None or (pids := server_pids(bench.pid)):
            break
        time.sleep(0.1)
    if not pids:
        sys.exit("the benchmark started no server")
    time.sleep(6)  # past start-up and most of the flow's set-up
    raw = Path(tempfile.mkdtemp(prefix="caremesh-profile-")) / f"{flow}.txt"
    spy = Path(sys.executable).parent / "py-spy"
    subprocess.run(
        [
            str(spy),
            "record",
            "--pid",
            str(min(pids)),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            "200",
            "--duration",
            str(seconds),
            "--output",
            str(raw),
            "--nonblocking",
        ],
        check=False,
        capture_output=True,
    )
    bench.wait()
    print(f"\nprofile of the server during `{flow}` ({seconds} s, py-spy at 200 Hz; raw stacks in {raw}):")
    print(summarise(raw) if raw.exists() else "py-spy wrote nothing (is ptrace allowed?)")


if __name__ == "__main__":
    main()
