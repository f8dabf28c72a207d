"""Premium invoices: insurance's `premium.billed` becomes one invoice of kind `premium` per premium billing, however
often and however concurrently it is delivered; paid in full, it announces `invoice.paid` with its premium."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from caremesh.billing import manual_invoices
from caremesh.insurance.contract import PremiumBilled
from tests.billing.helpers import deliver, published
from tests.builders.billing import INSURANCE, INVOICES, read_invoice
from tests.builders.deliveries import hand, settle, waiting
from tests.builders.patients import make_patient
from tests.builders.payments import make_payment
from tests.harness import every_page, outbox_payloads


def premium_billed(env, patient_id: str, amount: str = "1250.00", **overrides) -> PremiumBilled:
    fields = {
        "premium_billing_id": uuid.uuid4(),
        "coverage_id": uuid.uuid4(),
        "patient_id": uuid.UUID(patient_id),
        "scheme_id": uuid.uuid4(),
        "agent_id": None,
        "period": "2030-02",
        "amount": Decimal(amount),
        "currency": "INR",
        "description": "Premium 2030-02, GOLD (member M-1001)",
        "billed_at": env.clock.now(),
        **overrides,
    }
    return PremiumBilled(**fields)


async def publish(env, event: PremiumBilled) -> None:
    async with env.uow() as uow:
        uow.publish(event)


async def premium_invoices(env) -> list[dict]:
    return await every_page(env, INVOICES, kind="premium")


async def test_a_premium_billed_becomes_one_premium_invoice(env):
    patient = await make_patient(env, insurance=INSURANCE)  # insured: still no insurance share on a premium
    event = premium_billed(env, patient["id"])
    await publish(env, event)
    await env.drain()
    [invoice] = await premium_invoices(env)
    assert (invoice["kind"], invoice["premium_billing_id"], invoice["patient_id"]) == (
        "premium",
        str(event.premium_billing_id),
        patient["id"],
    )
    assert [(line["code"], line["description"], line["quantity"], line["unit_price"]) for line in invoice["lines"]] == [
        ("PREMIUM", "Premium 2030-02, GOLD (member M-1001)", 1, "1250.00")
    ]
    keys = ("subtotal", "discount_percent", "tax_rate", "tax_amount", "total", "insurance_amount", "patient_amount")
    assert tuple(invoice[k] for k in keys) == ("1250.00", 0, "0.00", "0.00", "1250.00", "0.00", "1250.00")
    assert (invoice["insurance_category"], invoice["insurance_bin"], invoice["status"]) == (None, None, "issued")
    [issued] = await outbox_payloads(env, "invoice.issued")
    assert (issued["invoice_id"], issued["number"], issued["kind"], issued["premium_billing_id"]) == (
        invoice["id"],
        invoice["number"],
        "premium",
        str(event.premium_billing_id),
    )


async def test_premiums_are_taxed_at_their_own_setting(make_env):
    async with make_env(billing={"premium_tax_rate": "0.18"}) as env:
        patient = await make_patient(env)
        await publish(env, premium_billed(env, patient["id"], "1000.00"))
        await env.drain()
        [invoice] = await premium_invoices(env)
        assert (invoice["tax_rate"], invoice["tax_amount"], invoice["total"]) == ("0.18", "180.00", "1180.00")


async def test_a_paid_premium_announces_invoice_paid_with_its_premium(env):
    patient = await make_patient(env)
    event = premium_billed(env, patient["id"], "500.00")
    await publish(env, event)
    await env.drain()
    [invoice] = await premium_invoices(env)
    await make_payment(env, invoice["id"], "200.00")
    assert await outbox_payloads(env, "invoice.paid") == []
    await make_payment(env, invoice["id"], "300.00")
    [paid] = await outbox_payloads(env, "invoice.paid")
    assert (paid["invoice_id"], paid["kind"], paid["premium_billing_id"], paid["amount_paid"]) == (
        invoice["id"],
        "premium",
        str(event.premium_billing_id),
        "500.00",
    )


async def test_redelivered_and_duplicated_premium_billed_make_one_invoice(env):
    patient = await make_patient(env)
    await publish(env, premium_billed(env, patient["id"]))
    await env.drain()
    [envelope] = await published(env, "premium.billed")
    await deliver(env, envelope)  # the transport redelivers it: the inbox knows it
    await deliver(env, envelope, fresh_id=True)  # a duplicate with another id: the unique index decides
    await env.drain()
    [invoice] = await premium_invoices(env)
    assert len(await outbox_payloads(env, "invoice.issued")) == 1
    assert (await read_invoice(env, invoice["id"]))["number"] == "INV-2030-000001"
    assert await env.count("number_sequences", "prefix = 'INV' AND last_value = 1") == 1


async def test_concurrent_deliveries_of_one_premium_make_one_invoice_and_take_one_number(env):
    patient = await make_patient(env)
    await publish(env, premium_billed(env, patient["id"]))
    await env.app.state.workers.relay.drain()
    [envelope] = await published(env, "premium.billed")
    for _ in range(4):
        await deliver(env, envelope, fresh_id=True)
    queued = await waiting(env, "billing", "premium.billed")
    assert len(queued) == 5
    await env.warm_pool()
    await asyncio.gather(*(hand(env, delivery) for delivery in queued))
    await settle(env)
    [invoice] = await premium_invoices(env)
    assert invoice["number"] == "INV-2030-000001"
    assert len(await outbox_payloads(env, "invoice.issued")) == 1


async def test_concurrent_calls_for_one_premium_billing_return_the_one_invoice(env):
    patient = await make_patient(env)
    event = premium_billed(env, patient["id"])

    async def issue() -> tuple[uuid.UUID, bool]:
        async with env.uow() as uow:
            invoice, issued = await manual_invoices.issue_premium_invoice(uow, event)
            return invoice.id, issued

    await env.warm_pool()
    results = await asyncio.gather(*(issue() for _ in range(6)))
    assert len({invoice_id for invoice_id, _ in results}) == 1
    assert sum(issued for _, issued in results) == 1
    assert await env.count("invoices") == 1
