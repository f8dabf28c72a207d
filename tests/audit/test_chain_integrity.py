"""The audit trail is append-only and hash-chained: the database refuses changes, verification finds
tampering and truncation, concurrent writers keep the chain whole, and no route changes an event."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.audit.helpers import append_only_lifted, audit_events
from tests.builders.patients import make_patient, patient_body
from tests.identity.helpers import API, PROBLEM_JSON, create_user


async def verify(env) -> dict:
    response = await env.client.get(f"{API}/audit-events/verify", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def some_history(env) -> None:
    """A few writes and a read, then sealed."""
    patient = await make_patient(env)
    await env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin)
    await create_user(env)
    await env.drain()


async def test_an_untouched_chain_verifies(env):
    await some_history(env)

    result = await verify(env)

    assert result == {"valid": True, "count": await env.count("audit_events"), "first_broken_id": None, "unsealed": 0}
    assert result["count"] >= 4


async def test_each_event_links_to_the_previous_hash(env):
    await some_history(env)

    events = await audit_events(env)

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == "0" * 64
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in events}) == len(events)


async def test_the_database_refuses_to_update_an_audit_event(env):
    await some_history(env)
    [first, *_] = await audit_events(env)

    with pytest.raises(DBAPIError):
        async with env.db.engine.begin() as connection:
            await connection.execute(text("UPDATE audit_events SET action = 'x' WHERE seq = :seq"), {"seq": first.seq})

    assert (await audit_events(env, seq=first.seq))[0].action == first.action


async def test_the_database_refuses_to_delete_an_audit_event(env):
    await some_history(env)
    before = await env.count("audit_events")

    with pytest.raises(DBAPIError):
        async with env.db.engine.begin() as connection:
            await connection.execute(text("DELETE FROM audit_events"))

    assert await env.count("audit_events") == before


async def test_verify_finds_the_first_tampered_event(env):
    await some_history(env)
    events = await audit_events(env)
    target = events[len(events) // 2]

    async with append_only_lifted(env), env.db.engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_events SET action = 'patient.nothing_to_see' WHERE seq = :seq"), {"seq": target.seq}
        )

    result = await verify(env)
    assert result["valid"] is False
    assert result["first_broken_id"] == str(target.id)


@pytest.mark.parametrize("column", ["actor_id", "entity_id", "request_id", "ip"])
async def test_verify_notices_a_change_to_any_recorded_field(env, column):
    await some_history(env)
    target = (await audit_events(env))[-1]
    value = "00000000-0000-4000-8000-000000000000" if column == "actor_id" else "forged"

    async with append_only_lifted(env), env.db.engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE audit_events SET {column} = :value WHERE seq = :seq"), {"value": value, "seq": target.seq}
        )

    result = await verify(env)
    assert result["valid"] is False
    assert result["first_broken_id"] == str(target.id)


async def test_verify_notices_a_recomputed_hash_by_the_next_link(env):
    """Rewriting an event and its own hash still breaks the next event's prev_hash."""
    await some_history(env)
    events = await audit_events(env)
    target, following = events[1], events[2]

    async with append_only_lifted(env), env.db.engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_events SET hash = :forged WHERE seq = :seq"), {"forged": "f" * 64, "seq": target.seq}
        )

    result = await verify(env)
    assert result["valid"] is False
    assert result["first_broken_id"] in {str(target.id), str(following.id)}


async def test_verify_notices_a_deleted_last_event(env):
    await some_history(env)
    last = (await audit_events(env))[-1]

    async with append_only_lifted(env), env.db.engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_events WHERE seq = :seq"), {"seq": last.seq})

    result = await verify(env)
    assert result["valid"] is False


async def test_verify_notices_a_deleted_event_in_the_middle(env):
    await some_history(env)
    events = await audit_events(env)
    removed, following = events[1], events[2]

    async with append_only_lifted(env), env.db.engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_events WHERE seq = :seq"), {"seq": removed.seq})

    result = await verify(env)
    assert result["valid"] is False
    assert result["first_broken_id"] == str(following.id)


async def test_concurrent_writers_keep_the_chain_valid(env):
    await env.warm_pool(20)
    responses = await asyncio.gather(
        *(env.client.post(f"{API}/patients", json=patient_body(), headers=env.admin) for _ in range(20))
    )

    assert [r.status_code for r in responses] == [201] * 20
    await env.drain()
    events = await audit_events(env)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sum(e.action == "patient.create" for e in events) == 20
    assert await verify(env) == {"valid": True, "count": len(events), "first_broken_id": None, "unsealed": 0}


async def test_concurrent_reads_and_writes_keep_the_chain_valid(env):
    patient = await make_patient(env)
    await env.warm_pool(20)
    requests = [env.client.get(f"{API}/patients/{patient['id']}", headers=env.admin) for _ in range(10)]
    requests += [env.client.post(f"{API}/patients", json=patient_body(), headers=env.admin) for _ in range(10)]

    responses = await asyncio.gather(*requests)

    assert sorted(r.status_code for r in responses) == [200] * 10 + [201] * 10
    await env.drain()
    result = await verify(env)
    assert result["valid"] is True
    assert result["count"] == await env.count("audit_events")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
async def test_no_route_changes_the_audit_trail(env, method):
    await some_history(env)
    [event, *_] = await audit_events(env)
    before = await env.count("audit_events")

    for path in ("/audit-events", "/audit-events/verify"):
        response = await env.client.request(method, f"{API}{path}", json={"action": "x"}, headers=env.admin)
        assert response.status_code == 405, (path, response.status_code)
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    item = await env.client.request(method, f"{API}/audit-events/{event.id}", json={"action": "x"}, headers=env.admin)
    assert item.status_code in (404, 405)
    assert item.headers["content-type"].startswith(PROBLEM_JSON)

    assert await env.count("audit_events") == before
    assert (await verify(env))["valid"] is True


async def test_openapi_offers_only_reads_of_the_audit_trail(env):
    paths = (await env.client.get("/openapi.json")).json()["paths"]

    audit_paths = {p: ops for p, ops in paths.items() if p.startswith(f"{API}/audit-events")}
    assert audit_paths
    assert {method for ops in audit_paths.values() for method in ops} == {"get"}
