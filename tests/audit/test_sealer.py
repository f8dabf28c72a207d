"""The sealer: transactions record events unsealed, one sealer at a time chains them after commit, exactly once,
under load, with sealers racing from two engines, and after one is SIGKILLed halfway through a batch."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from caremesh.audit.sealer import Sealer
from caremesh.platform.db import Database
from caremesh.platform.uow import UnitOfWorkFactory
from tests.audit.helpers import audit_events
from tests.audit.test_chain_integrity import verify
from tests.builders.patients import make_patient, patient_body
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, process_env
from tests.identity.helpers import API, all_pages

REPO = Path(__file__).resolve().parents[2]


def assert_chained(events) -> None:
    """Sealed 1..n in order, each linked to the one before, no hash twice."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == "0" * 64
    assert all(event.prev_hash == previous.hash for previous, event in itertools.pairwise(events))
    assert len({e.hash for e in events}) == len(events)


async def test_events_are_recorded_unsealed_and_sealed_by_the_sealer(env):
    await env.drain()
    sealed = await env.count("audit_events")
    await make_patient(env)
    await make_patient(env)

    before = await verify(env)
    [*_, first, second] = await audit_events(env)
    await env.drain()

    assert before == {"valid": True, "count": sealed, "first_broken_id": None, "unsealed": 2}
    assert (first.seq, first.prev_hash, first.hash, second.seq) == (None, None, None, None)
    assert await verify(env) == {"valid": True, "count": sealed + 2, "first_broken_id": None, "unsealed": 0}
    [*_, first, second] = await audit_events(env)
    assert (first.seq, second.seq) == (sealed + 1, sealed + 2)
    assert second.prev_hash == first.hash


async def test_the_list_shows_the_chain_first_and_unsealed_events_last(env):
    await make_patient(env)
    await env.drain()
    patient = await make_patient(env)
    await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)

    items = await all_pages(env.client, f"{API}/audit-events", env.admin, limit=200)

    sealed = [e for e in items if e["seq"] is not None]
    assert items[: len(sealed)] == sealed
    assert [e["seq"] for e in sealed] == list(range(1, len(sealed) + 1))
    assert [(e["action"], e["prev_hash"], e["hash"]) for e in items[len(sealed) :]] == [
        ("patient.create", None, None),
        ("patient.read", None, None),
    ]


async def test_paging_while_the_sealer_works_shows_every_event_once(env):
    for _ in range(3):
        await make_patient(env)
    await env.drain()
    for _ in range(5):
        await make_patient(env)
    expected = {str(e.id) for e in await audit_events(env)}

    seen, query = [], {"limit": "3"}
    while True:
        page = (await env.client.get(f"{API}/audit-events", params=query, headers=env.admin)).json()
        seen += page["items"]
        if any(e["seq"] is None for e in page["items"]):
            await env.drain()  # what the client saw unsealed is sealed before its next page
        if not page["next_cursor"]:
            break
        query["cursor"] = page["next_cursor"]

    assert len(seen) == len(expected)
    assert {e["id"] for e in seen} == expected


async def test_the_database_allows_only_sealing_an_unsealed_event(env):
    await env.drain()
    await make_patient(env)
    [*_, sealed, unsealed] = await audit_events(env)
    await make_patient(env)
    changes = [
        ("UPDATE audit_events SET action = 'x' WHERE position = :p", unsealed.position),
        (
            "UPDATE audit_events SET seq = 999, prev_hash = :h, hash = :h, action = 'x' WHERE position = :p",
            unsealed.position,
        ),
        ("UPDATE audit_events SET seq = 999 WHERE position = :p", unsealed.position),  # half sealed
        ("UPDATE audit_events SET seq = 999, prev_hash = :h, hash = :h WHERE position = :p", sealed.position),
        ("UPDATE audit_events SET seq = NULL, prev_hash = NULL, hash = NULL WHERE position = :p", sealed.position),
        ("DELETE FROM audit_events WHERE position = :p", unsealed.position),
    ]

    for statement, position in changes:
        with pytest.raises(DBAPIError):
            async with env.db.engine.begin() as connection:
                await connection.execute(text(statement), {"p": position, "h": "a" * 64})

    async with env.db.engine.begin() as connection:  # what the sealer does is allowed
        await connection.execute(
            text("UPDATE audit_events SET seq = 999, prev_hash = :h, hash = :h WHERE position = :p"),
            {"p": unsealed.position, "h": "a" * 64},
        )
    [*_, sealed_now, _] = await audit_events(env)
    assert (sealed_now.id, sealed_now.action, sealed_now.seq) == (unsealed.id, unsealed.action, 999)


async def test_forty_concurrent_writes_and_reads_are_sealed_once_each(env):
    patient = await make_patient(env)
    await env.warm_pool(20)
    requests = [env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin) for _ in range(20)]
    requests += [env.client.post(f"{API}/patients", json=patient_body(), headers=env.admin) for _ in range(20)]

    responses = await asyncio.gather(*requests)
    await env.drain()

    assert sorted(r.status_code for r in responses) == [200] * 20 + [201] * 20
    events = await audit_events(env)
    assert_chained(events)
    assert len(events) == await env.count("audit_events")
    assert sum(e.action == "patient.read" for e in events) == 20
    assert await verify(env) == {"valid": True, "count": len(events), "first_broken_id": None, "unsealed": 0}


async def test_sealers_racing_from_two_engines_seal_each_event_exactly_once(env):
    """As two processes would: each sealer its own engine (its own connections, and on SQLite its own lock)."""
    factory = env.app.state.uow_factory
    other = Database(env.db.settings)
    ours = Sealer(factory, batch_size=7)
    theirs = Sealer(UnitOfWorkFactory(other, factory.clock, settings=factory.settings), batch_size=7)
    await env.warm_pool(10)
    sealed = 0
    try:
        for _ in range(8):
            writes = [env.client.post(f"{API}/patients", json=patient_body(), headers=env.admin) for _ in range(5)]
            seals = [sealer.seal(wait=wait) for sealer in (ours, theirs) for wait in (True, False, True)]
            results = await asyncio.gather(*writes, *seals)
            assert [r.status_code for r in results[:5]] == [201] * 5
            sealed += sum(count or 0 for count in results[5:])
        while done := await ours.run_once() + await theirs.run_once():
            sealed += done
    finally:
        await other.dispose()

    events = await audit_events(env)
    assert sealed == len(events) == await env.count("audit_events")  # none twice (the database refuses it anyway)
    assert_chained(events)
    assert await verify(env) == {"valid": True, "count": len(events), "first_broken_id": None, "unsealed": 0}


async def test_a_running_sealer_is_woken_by_the_commit(env):
    """Its poll is an hour away: only the nudge after the commit can make it seal."""
    sealer = Sealer(env.app.state.uow_factory, poll_seconds=3600)
    task = asyncio.create_task(sealer.run_forever())
    try:
        await make_patient(env)
        for _ in range(600):
            if not (await verify(env))["unsealed"]:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    result = await verify(env)
    assert result["unsealed"] == 0
    assert result["valid"] is True
    assert result["count"] == await env.count("audit_events")


async def test_a_sealer_killed_before_its_commit_leaves_nothing_half_sealed(env):
    await make_patient(env)
    await env.drain()
    sealed = await env.count("audit_events")
    for _ in range(3):
        await make_patient(env)
    unsealed = await env.count("audit_events") - sealed
    variables = {"CAREMESH_DATABASE_URL": env.db.settings.database_url}
    if env.db.settings.database_schema:
        variables["CAREMESH_DATABASE_SCHEMA"] = env.db.settings.database_schema

    died = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.audit.sealer_dies_before_commit"],
        env=process_env(ADMIN_EMAIL, ADMIN_PASSWORD, variables),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    assert int(died.stdout) == sealed + unsealed  # it had sealed them all, uncommitted
    assert await verify(env) == {"valid": True, "count": sealed, "first_broken_id": None, "unsealed": unsealed}
    assert all(e.seq is None and e.hash is None for e in (await audit_events(env))[sealed:])
    await env.drain()
    assert await verify(env) == {"valid": True, "count": sealed + unsealed, "first_broken_id": None, "unsealed": 0}
    assert_chained(await audit_events(env))
