"""PATCH of payers, schemes, premium rates and coverages (issue 16): If-Match and ETag, what may change and what
may not, uniqueness and overlapping bands refused as on create (also two at once), and a refused edit changes
nothing."""

from __future__ import annotations

import asyncio

from tests.builders.insurance import (
    COVERAGES,
    PAYERS,
    SCHEMES,
    add_rate,
    make_agent,
    make_coverage,
    make_payer,
    make_scheme,
    patch,
)
from tests.harness import assert_problem, outbox_payloads


async def test_a_payer_is_edited_under_if_match_and_keeps_its_code(env):
    payer = await make_payer(env, bin="610014")
    url = f"{PAYERS}/{payer['id']}"
    assert payer["version"] == 1

    changed = await patch(env, url, {"name": "Renamed", "pcn": "GRP1"}, version=1)
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["name"], changed.json()["pcn"], changed.json()["code"]) == ("Renamed", "GRP1", payer["code"])

    assert_problem(await patch(env, url, {"name": "Stale"}, version=1), 412, "VERSION_CONFLICT")
    assert_problem(await patch(env, url, {"code": "OTHER"}, version=2), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"name": None}, version=2), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"bin": None}, version=2), 422, "VALIDATION_ERROR")  # its PCN needs it
    read = await env.client.get(url, headers=env.admin)
    assert (read.json()["name"], read.json()["version"], read.headers["ETag"]) == ("Renamed", 2, '"2"')


async def test_a_payer_cannot_take_another_payers_bin_and_pcn(env):
    await make_payer(env, bin="610099", pcn="P1")
    other = await make_payer(env)
    url = f"{PAYERS}/{other['id']}"
    assert_problem(await patch(env, url, {"bin": "610099", "pcn": "P1"}, version=1), 409, "PAYER_BIN_PCN_EXISTS")
    assert (await env.client.get(url, headers=env.admin)).json()["bin"] is None


async def test_a_scheme_is_renamed_and_recoded_but_its_code_stays_unique_per_payer(env):
    payer = await make_payer(env)
    first = await make_scheme(env, payer)
    second = await make_scheme(env, payer)
    url = f"{SCHEMES}/{second['id']}"
    assert_problem(await patch(env, url, {"code": first["code"]}, version=1), 409, "SCHEME_CODE_EXISTS")
    changed = await patch(env, url, {"code": "gold-2", "name": "Gold"}, version=1)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["code"], changed.json()["name"], changed.json()["version"]) == ("GOLD-2", "Gold", 2)
    assert_problem(await patch(env, url, {"status": "suspended"}, version=2), 422, "VALIDATION_ERROR")


async def test_a_premium_rate_is_read_and_edited_but_never_overlaps_another_band(env):
    scheme = await make_scheme(env)
    young = await add_rate(env, scheme, 0, 17, "100.00")
    adult = await add_rate(env, scheme, 18, 59, "300.00")
    url = f"{SCHEMES}/{scheme['id']}/premium-rates/{adult['id']}"
    read = await env.client.get(url, headers=env.admin)
    assert (read.status_code, read.headers["ETag"], read.json()["monthly_premium"]) == (200, '"1"', "300.00")

    assert_problem(await patch(env, url, {"min_age": 17}, version=1), 409, "OVERLAPPING_PREMIUM_BANDS")
    opened = await patch(env, url, {"max_age": None, "monthly_premium": "320.50"}, version=1)
    assert opened.status_code == 200, opened.text
    assert (opened.json()["max_age"], opened.json()["monthly_premium"], opened.json()["version"]) == (None, "320.50", 2)
    # The open band now covers 60 and over: a new band there overlaps it, and so does widening the young one.
    response = await env.client.post(
        f"{SCHEMES}/{scheme['id']}/premium-rates",
        json={"min_age": 60, "max_age": 70, "monthly_premium": "1.00"},
        headers=env.admin,
    )
    assert_problem(response, 409, "OVERLAPPING_PREMIUM_BANDS")
    young_url = f"{SCHEMES}/{scheme['id']}/premium-rates/{young['id']}"
    assert_problem(await patch(env, young_url, {"max_age": 30}, version=1), 409, "OVERLAPPING_PREMIUM_BANDS")
    assert_problem(await patch(env, young_url, {"min_age": 20}, version=1), 422, "VALIDATION_ERROR")  # above max
    assert_problem(await patch(env, url, {"monthly_premium": "1.00"}, version=1), 412, "VERSION_CONFLICT")
    other = await make_scheme(env)
    elsewhere = f"{SCHEMES}/{other['id']}/premium-rates/{adult['id']}"
    assert_problem(await env.client.get(elsewhere, headers=env.admin), 404, "PREMIUM_RATE_NOT_FOUND")
    assert (await env.client.get(url, headers=env.admin)).json()["monthly_premium"] == "320.50"


async def test_two_overlapping_bands_created_at_once_never_both_succeed(env):
    await env.warm_pool()
    scheme = await make_scheme(env)
    path = f"{SCHEMES}/{scheme['id']}/premium-rates"
    bodies = [{"min_age": 10 + i, "max_age": 40 + i, "monthly_premium": "50.00"} for i in range(6)]
    responses = await asyncio.gather(*(env.client.post(path, json=b, headers=env.admin) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409, 409]
    listed = (await env.client.get(path, headers=env.admin)).json()["items"]
    assert len(listed) == 1


async def test_two_bands_widened_at_once_into_each_other_never_both_succeed(env):
    await env.warm_pool()
    scheme = await make_scheme(env)
    low = await add_rate(env, scheme, 0, 20, "10.00")
    high = await add_rate(env, scheme, 40, 60, "20.00")
    path = f"{SCHEMES}/{scheme['id']}/premium-rates"
    responses = await asyncio.gather(
        patch(env, f"{path}/{low['id']}", {"max_age": 35}, version=1),
        patch(env, f"{path}/{high['id']}", {"min_age": 30}, version=1),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]


async def test_a_coverage_edits_status_dates_member_id_and_agent_but_not_its_patient_or_scheme(env):
    agent = await make_agent(env)
    coverage = await make_coverage(env, agent_id=agent["id"])
    assert coverage["agent_id"] == agent["id"]
    url = f"{COVERAGES}/{coverage['id']}"

    changed = await patch(
        env, url, {"valid_to": "2030-12-31", "member_id": "NEW-1", "status": "inactive", "agent_id": None}, version=1
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["valid_to"], body["member_id"], body["status"], body["agent_id"], body["version"]) == (
        "2030-12-31",
        "NEW-1",
        "inactive",
        None,
        2,
    )
    assert changed.headers["ETag"] == '"2"'
    for refused in ({"patient_id": coverage["patient_id"]}, {"scheme_id": coverage["scheme_id"]}, {"status": None}):
        assert_problem(await patch(env, url, refused, version=2), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"valid_from": "2031-01-01"}, version=2), 422, "VALIDATION_ERROR")
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_problem(await patch(env, url, {"agent_id": unknown}, version=2), 404, "AGENT_NOT_FOUND")
    assert_problem(await patch(env, url, {"valid_to": None}, version=1), 412, "VERSION_CONFLICT")
    assert (await env.client.get(url, headers=env.admin)).json() == body


async def test_a_member_id_stays_unique_per_payer_on_edit(env):
    scheme = await make_scheme(env)
    first = await make_coverage(env, scheme=scheme)
    second = await make_coverage(env, scheme=scheme)
    url = f"{COVERAGES}/{second['id']}"
    assert_problem(await patch(env, url, {"member_id": first["member_id"]}, version=1), 409, "MEMBER_ID_EXISTS")


async def test_a_coverage_names_a_known_agent_only(env):
    unknown = "00000000-0000-4000-8000-000000000000"
    patient = (await make_coverage(env))["patient_id"]
    scheme = await make_scheme(env)
    body = {"patient_id": patient, "scheme_id": scheme["id"], "member_id": "A-1", "valid_from": "2030-01-01"}
    response = await env.client.post(COVERAGES, json={**body, "agent_id": unknown}, headers=env.admin)
    assert_problem(response, 404, "AGENT_NOT_FOUND")
    listed = await env.client.get(COVERAGES, params={"scheme_id": scheme["id"]}, headers=env.admin)
    assert listed.json()["items"] == []


async def test_only_writers_edit(env):
    payer = await make_payer(env)
    clerk = await env.user(["billing_clerk"])
    response = await patch(env, f"{PAYERS}/{payer['id']}", {"name": "X"}, version=1, headers=clerk)
    assert_problem(response, 403, "FORBIDDEN")


async def test_coverage_created_names_its_agent(env):
    agent = await make_agent(env)
    with_agent = await make_coverage(env, agent_id=agent["id"])
    without = await make_coverage(env)
    created = {p["coverage_id"]: p["agent_id"] for p in await outbox_payloads(env, "coverage.created")}
    assert (created[with_agent["id"]], created[without["id"]]) == (agent["id"], None)
