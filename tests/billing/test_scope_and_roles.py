"""Who may do what in billing, and a patient-role user sees only their own invoices."""

from __future__ import annotations

import pytest

from tests.billing.helpers import billing_snapshot
from tests.builders.billing import INVOICES, TARIFFS, completed_visit, completed_visit_invoice, tariff_body
from tests.builders.scheduling import assert_problem

AR = "/api/v1/accounts-receivable"


@pytest.fixture
async def world(env):
    """Two patients' invoices; headers of the first patient's own user."""
    mine = await completed_visit_invoice(env)
    theirs = await completed_visit_invoice(env)
    headers = await env.user(["patient"], patient_id=mine["patient_id"])
    return mine, theirs, headers


async def test_a_patient_reads_their_own_invoice_and_not_anyone_elses(env, world):
    mine, theirs, headers = world
    response = await env.client.get(f"{INVOICES}/{mine['id']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == mine["id"]
    assert_problem(await env.client.get(f"{INVOICES}/{theirs['id']}", headers=headers), 404, "INVOICE_NOT_FOUND")


async def test_a_patient_lists_only_their_own_invoices(env, world):
    mine, theirs, headers = world
    listed = await env.client.get(INVOICES, headers=headers)
    assert [i["id"] for i in listed.json()["items"]] == [mine["id"]]
    for params in ({"patient_id": theirs["patient_id"]}, {"appointment_id": theirs["appointment_id"]}):
        spying = await env.client.get(INVOICES, params=params, headers=headers)
        assert (spying.status_code, spying.json()["items"]) == (200, [])


async def test_a_patient_cannot_issue_void_or_see_receivables_or_tariffs(env, world):
    mine, _, _ = world
    visit = await completed_visit(env)  # moves the clock: log in afterwards
    headers = await env.user(["patient"], patient_id=mine["patient_id"])
    before = await billing_snapshot(env)
    refused = [
        await env.client.post(INVOICES, json={"appointment_id": visit["id"]}, headers=headers),
        await env.client.post(f"{INVOICES}/{mine['id']}/void", headers=headers),
        await env.client.get(AR, headers=headers),
        await env.client.get(TARIFFS, headers=headers),
    ]
    for response in refused:
        assert_problem(response, 403, "FORBIDDEN")
    assert await billing_snapshot(env) == before


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("doctor", set()),
        ("nurse", set()),
        ("receptionist", {"read", "tariffs"}),
        ("claims_officer", {"read", "tariffs", "receivables"}),
        ("billing_clerk", {"read", "tariffs", "write", "receivables"}),
        ("admin", {"read", "tariffs", "write", "receivables", "tariffs:write"}),
    ],
)
async def test_roles(env, role, allowed):
    invoice = await completed_visit_invoice(env)
    visit = await completed_visit(env)
    headers = await env.user([role])
    attempts = {
        "read": [
            await env.client.get(INVOICES, headers=headers),
            await env.client.get(f"{INVOICES}/{invoice['id']}", headers=headers),
        ],
        "tariffs": [await env.client.get(TARIFFS, headers=headers)],
        "write": [await env.client.post(INVOICES, json={"appointment_id": visit["id"]}, headers=headers)],
        "receivables": [await env.client.get(AR, headers=headers)],
        "tariffs:write": [
            await env.client.post(TARIFFS, json=tariff_body(), headers=headers),
            await env.client.patch(f"{TARIFFS}/CONSULT-GENERAL", json={"description": "GP"}, headers=headers),
        ],
    }
    for name, responses in attempts.items():
        for response in responses:
            if name in allowed:
                assert response.status_code in (200, 201), (name, response.text)
            else:
                assert_problem(response, 403, "FORBIDDEN")


async def test_without_a_token_everything_is_401(env):
    for method, url in (
        ("GET", INVOICES),
        ("POST", INVOICES),
        ("GET", f"{INVOICES}/00000000-0000-4000-8000-000000000000"),
        ("POST", f"{INVOICES}/00000000-0000-4000-8000-000000000000/void"),
        ("GET", TARIFFS),
        ("POST", TARIFFS),
        ("GET", f"{TARIFFS}/CONSULT-GENERAL"),
        ("PATCH", f"{TARIFFS}/CONSULT-GENERAL"),
        ("GET", AR),
    ):
        assert_problem(await env.client.request(method, url), 401, "UNAUTHENTICATED")
