"""Invoice numbers are gapless per year (tax documents, docs/DECISIONS.md): taken from the locked counter row as
late as possible (by the consumer just before it commits), so a rollback or a lost race gives the number back,
and whatever carries the number (the response, the events) carries the real one."""

from __future__ import annotations

import asyncio

from caremesh.billing import service
from tests.builders.billing import INVOICES, completed_visit, invoice_of
from tests.builders.scheduling import outbox_payloads

VISITS = 8


async def post_invoice(env, appointment_id):
    return await env.client.post(INVOICES, json={"appointment_id": appointment_id}, headers=env.admin)


async def test_invoices_issued_at_once_by_the_consumer_and_by_requests_number_one_to_n(env):
    visits = [await completed_visit(env) for _ in range(VISITS)]  # each appointment.completed waits for billing
    await env.warm_pool()

    # Requests for half the visits (twice each) race the consumer, which invoices every visit it still finds bare.
    *responses, _ = await asyncio.gather(
        *(post_invoice(env, v["id"]) for v in visits[::2] for _ in range(2)), env.drain()
    )
    await env.drain()

    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    invoices = [await invoice_of(env, v["id"]) for v in visits]
    numbers = sorted(i["number"] for i in invoices)
    assert numbers == [f"INV-2030-{n:06d}" for n in range(1, VISITS + 1)]
    assert {r.json()["number"] for r in responses} <= set(numbers)
    issued = {p["invoice_id"]: p["number"] for p in await outbox_payloads(env, "invoice.issued")}
    assert issued == {i["id"]: i["number"] for i in invoices}  # each event carries its invoice's real number
    assert await env.count("invoices", "number NOT LIKE 'INV-%'") == 0


async def test_an_invoice_rolled_back_at_commit_gives_its_number_back(env, monkeypatch):
    for _ in range(2):
        await completed_visit(env)
    await env.drain()  # both invoiced by the consumer: 1 and 2
    failing, other = await completed_visit(env), await completed_visit(env)

    def crash(_invoice):
        raise RuntimeError("failed after the number was taken, as the unit commits")

    with monkeypatch.context() as patched:
        patched.setattr(service, "_issued_event", crash)
        await env.drain()
    assert await env.count("invoices") == 2

    response = await post_invoice(env, other["id"])
    assert response.status_code == 201, response.text
    assert response.json()["number"] == "INV-2030-000003"  # what the consumer took went back
    env.clock.advance(minutes=5)
    await env.drain()  # the failed delivery again
    assert (await invoice_of(env, failing["id"]))["number"] == "INV-2030-000004"
    assert await env.count("number_sequences", "prefix = 'INV' AND last_value = 4") == 1
