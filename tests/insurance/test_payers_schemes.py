"""Payers (code and BIN/PCN unique, BIN/PCN resolution) and schemes (status transitions, versions, events)."""

from __future__ import annotations

import uuid

import pytest

from tests.builders.insurance import PAYERS, SCHEMES, make_payer, make_scheme
from tests.harness import assert_problem, outbox_payloads


async def test_a_payer_is_created_and_read_back(env):
    payer = await make_payer(env, code="acme-health", name="Acme Health", bin="610014", pcn="ABC123")

    assert payer["code"] == "ACME-HEALTH"
    response = await env.client.get(f"{PAYERS}/{payer['id']}", headers=env.admin)
    assert response.status_code == 200
    assert response.json() == payer


async def test_payer_codes_and_bin_pcn_pairs_are_unique(env):
    await make_payer(env, code="ACME", bin="610014", pcn="ABC123")
    await make_payer(env, code="BARE", bin="610099")

    same_code = await env.client.post(PAYERS, json={"code": "acme", "name": "Other"}, headers=env.admin)
    assert_problem(same_code, 409, "PAYER_CODE_EXISTS")
    same_card = {"code": "OTHER", "name": "Other", "bin": "610014", "pcn": "ABC123"}
    assert_problem(await env.client.post(PAYERS, json=same_card, headers=env.admin), 409, "PAYER_BIN_PCN_EXISTS")
    same_bare_bin = {"code": "OTHER", "name": "Other", "bin": "610099"}
    assert_problem(await env.client.post(PAYERS, json=same_bare_bin, headers=env.admin), 409, "PAYER_BIN_PCN_EXISTS")
    assert await env.count("insurance_payers") == 2


@pytest.mark.parametrize(
    "body",
    [
        {"code": "X", "name": "X", "bin": "61001"},
        {"code": "X", "name": "X", "bin": "6100145"},
        {"code": "X", "name": "X", "bin": "61001A"},
        {"code": "X", "name": "X", "bin": "610014", "pcn": "ABC-12"},
        {"code": "X", "name": "X", "bin": "610014", "pcn": "ABCDEFGHIJK"},
        {"code": "X", "name": "X", "pcn": "ABC"},
        {"code": "", "name": "X"},
        {"code": "X", "name": ""},
        {"code": "X", "name": "X", "extra": 1},
    ],
)
async def test_malformed_payers_are_refused_with_422(env, body):
    assert_problem(await env.client.post(PAYERS, json=body, headers=env.admin), 422, "VALIDATION_ERROR")
    assert await env.count("insurance_payers") == 0


async def test_bin_and_pcn_resolve_to_a_payer_exact_first_then_by_bin(env):
    exact = await make_payer(env, bin="610014", pcn="ABC123")
    default = await make_payer(env, bin="610014")

    async def resolved(**params):
        response = await env.client.get(PAYERS, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await resolved(bin="610014", pcn="ABC123") == [exact["id"]]
    assert await resolved(bin="610014", pcn="ZZZ") == [default["id"]]
    assert await resolved(bin="999999", pcn="ABC123") == []
    assert sorted(await resolved(bin="610014")) == sorted([exact["id"], default["id"]])


async def test_unknown_payer_is_404(env):
    assert_problem(await env.client.get(f"{PAYERS}/{uuid.uuid4()}", headers=env.admin), 404, "PAYER_NOT_FOUND")
    body = {"payer_id": str(uuid.uuid4()), "code": "S", "name": "S"}
    assert_problem(await env.client.post(SCHEMES, json=body, headers=env.admin), 404, "PAYER_NOT_FOUND")


async def test_schemes_are_listed_by_payer_and_status(env):
    payer = await make_payer(env)
    active = await make_scheme(env, payer)
    suspended = await make_scheme(env, payer, status="suspended")
    await make_scheme(env)

    async def ids(**params):
        response = await env.client.get(SCHEMES, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert sorted(await ids(payer_id=payer["id"])) == sorted([active["id"], suspended["id"]])
    assert await ids(payer_id=payer["id"], status="suspended") == [suspended["id"]]
    dup = {"payer_id": payer["id"], "code": active["code"], "name": "Again"}
    assert_problem(await env.client.post(SCHEMES, json=dup, headers=env.admin), 409, "SCHEME_CODE_EXISTS")


async def test_suspend_and_activate_move_the_status_once_and_publish(env):
    scheme = await make_scheme(env)
    url = f"{SCHEMES}/{scheme['id']}"
    assert scheme["status"] == "active"
    assert scheme["version"] == 1

    assert_problem(await env.client.post(f"{url}/activate", headers=env.admin), 409, "INVALID_STATUS_TRANSITION")
    suspended = await env.client.post(f"{url}/suspend", headers=env.admin)
    assert suspended.status_code == 200, suspended.text
    assert (suspended.json()["status"], suspended.json()["version"]) == ("suspended", 2)
    assert suspended.headers["ETag"] == '"2"'
    assert_problem(await env.client.post(f"{url}/suspend", headers=env.admin), 409, "INVALID_STATUS_TRANSITION")

    stale = await env.client.post(f"{url}/activate", headers={**env.admin, "If-Match": '"1"'})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    fresh = await env.client.post(f"{url}/activate", headers={**env.admin, "If-Match": '"2"'})
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "active"

    [suspended_event] = await outbox_payloads(env, "scheme.suspended")
    [activated_event] = await outbox_payloads(env, "scheme.activated")
    assert suspended_event["scheme_id"] == activated_event["scheme_id"] == scheme["id"]
    assert set(suspended_event) == {"scheme_id", "payer_id", "suspended_at"}


async def test_unknown_scheme_is_404(env):
    for method, path in [
        ("GET", f"{SCHEMES}/{uuid.uuid4()}"),
        ("POST", f"{SCHEMES}/{uuid.uuid4()}/suspend"),
        ("GET", f"{SCHEMES}/{uuid.uuid4()}/benefits"),
        ("GET", f"{SCHEMES}/{uuid.uuid4()}/premium-rates"),
    ]:
        assert_problem(await env.client.request(method, path, headers=env.admin), 404, "SCHEME_NOT_FOUND")
