"""Many callers against one invariant at once: one invoice per appointment, payments within the balance."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal

from caremesh.billing import contract as billing
from caremesh.billing import service
from caremesh.platform.errors import DomainError
from tests.builders.billing import INVOICES, completed_visit, completed_visit_invoice

CONTENDERS = 12


async def post_invoice(env, appointment_id):
    return await env.client.post(INVOICES, json={"appointment_id": appointment_id}, headers=env.admin)


async def test_concurrent_posts_and_the_consumer_make_one_invoice_and_all_get_it(env):
    visit = await completed_visit(env)  # appointment.completed waits in the outbox
    await env.warm_pool()

    *responses, _ = await asyncio.gather(*(post_invoice(env, visit["id"]) for _ in range(CONTENDERS)), env.drain())

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 201}, [r.text for r in responses]
    assert statuses[201] <= 1  # none when the consumer won
    assert len({r.json()["id"] for r in responses}) == 1
    assert await env.count("invoices") == 1
    assert (await env.outbox_types()).count("invoice.issued") == 1
    assert await env.count("number_sequences", "prefix = 'INV' AND last_value = 1") == 1  # no number lost
    assert await env.count("dead_letters") == 0
    assert await env.count("event_deliveries") == 0


async def test_concurrent_posts_for_different_appointments_number_without_gaps(env):
    visits = [await completed_visit(env) for _ in range(6)]
    await env.warm_pool()

    responses = await asyncio.gather(*(post_invoice(env, v["id"]) for v in visits for _ in range(2)))

    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    numbers = sorted({r.json()["number"] for r in responses})
    assert numbers == [f"INV-2030-{n:06d}" for n in range(1, 7)]


async def test_a_race_the_first_check_cannot_see_returns_the_winners_invoice(env, monkeypatch):
    # On SQLite transactions are serial, so the lost race is simulated: the early check sees nothing.
    visit = await completed_visit(env)
    first = await post_invoice(env, visit["id"])
    assert first.status_code == 201

    async def sees_nothing(*_args):
        return None

    monkeypatch.setattr(service, "_already_issued", sees_nothing)
    lost = await post_invoice(env, visit["id"])

    assert lost.status_code == 200, lost.text
    assert lost.json() == first.json()
    assert await env.count("invoices") == 1
    assert await env.count("number_sequences", "prefix = 'INV' AND last_value = 1") == 1  # its number went back
    assert (await env.outbox_types()).count("invoice.issued") == 1


async def attempt(env, operation, *args, **kwargs) -> str:
    try:
        async with env.uow() as uow:
            await operation(uow, *args, **kwargs)
    except DomainError as error:
        return error.code
    return "ok"


async def test_concurrent_reservations_never_exceed_the_balance(env):
    invoice = await completed_visit_invoice(env, experience_years=26)  # the patient owes 168.00
    invoice_id = uuid.UUID(invoice["id"])
    await env.warm_pool()

    outcomes = await asyncio.gather(
        *(attempt(env, billing.reserve_payment, invoice_id, Decimal("50.00")) for _ in range(CONTENDERS))
    )

    assert Counter(outcomes) == {"ok": 3, "AMOUNT_EXCEEDS_BALANCE": CONTENDERS - 3}
    async with env.db.sessionmaker() as session:
        summary = await billing.find_invoice(session, invoice_id)
    assert summary.amount_pending == Decimal("150.00")


async def test_concurrent_settlements_pay_the_invoice_once(env):
    invoice = await completed_visit_invoice(env, experience_years=26)
    invoice_id = uuid.UUID(invoice["id"])
    for _ in range(4):
        assert await attempt(env, billing.reserve_payment, invoice_id, Decimal("42.00")) == "ok"
    await env.warm_pool()

    outcomes = await asyncio.gather(
        *(attempt(env, billing.settle_payment, invoice_id, Decimal("42.00"), succeeded=True) for _ in range(4))
    )

    assert outcomes == ["ok"] * 4
    async with env.db.sessionmaker() as session:
        summary = await billing.find_invoice(session, invoice_id)
    assert (summary.amount_paid, summary.amount_pending, summary.status) == (Decimal("168.00"), Decimal("0.00"), "paid")
    assert (await env.outbox_types()).count("invoice.paid") == 1


async def test_a_void_racing_payments_lets_only_one_side_win(env):
    invoice = await completed_visit_invoice(env)
    invoice_id = uuid.UUID(invoice["id"])
    await env.warm_pool()

    voided, *reserved = await asyncio.gather(
        env.client.post(f"{INVOICES}/{invoice['id']}/void", headers=env.admin),
        *(attempt(env, billing.reserve_payment, invoice_id, Decimal("1.00")) for _ in range(6)),
    )

    if voided.status_code == 200:
        assert set(reserved) == {"INVOICE_NOT_PAYABLE"}
    else:
        assert voided.json()["code"] == "INVOICE_HAS_PAYMENTS"
        assert "ok" in reserved
    async with env.db.sessionmaker() as session:
        summary = await billing.find_invoice(session, invoice_id)
    assert (summary.status == "void") == (summary.amount_pending == 0)
