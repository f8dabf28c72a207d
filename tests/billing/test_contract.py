"""What payments rely on: billing's contract moves money against an invoice, and the status follows."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from caremesh.billing import contract as billing
from caremesh.platform.errors import DomainError
from caremesh.platform.security import Principal
from tests.billing.helpers import billing_snapshot
from tests.builders.billing import INVOICES, completed_visit_invoice
from tests.builders.scheduling import outbox_payloads

D = Decimal


@pytest.fixture
async def invoice(env) -> dict:
    """API.md's example without prior visits: the patient owes 168.00."""
    return await completed_visit_invoice(env, experience_years=26)


async def call(env, operation, invoice_id, *args, actor=None, **kwargs) -> billing.InvoiceSummary:
    async with env.uow(actor=actor) as uow:
        return await operation(uow, uuid.UUID(str(invoice_id)), *args, **kwargs)


async def refused(env, code, operation, invoice_id, *args, **kwargs) -> DomainError:
    before = await billing_snapshot(env)
    with pytest.raises(DomainError) as raised:
        await call(env, operation, invoice_id, *args, **kwargs)
    assert raised.value.code == code
    assert await billing_snapshot(env) == before
    return raised.value


async def read(env, invoice_id) -> dict:
    return (await env.client.get(f"{INVOICES}/{invoice_id}", headers=env.admin)).json()


FIRST_FIELDS = (
    "id",
    "number",
    "patient_id",
    "status",
    "currency",
    "total",
    "patient_amount",
    "insurance_amount",
    "amount_paid",
    "amount_pending",
    "balance_due",
    "insurance_paid",
    "kind",
    "appointment_id",
    "order_id",
    "practitioner_id",
)


async def test_find_invoice(env, invoice):
    async with env.db.sessionmaker() as session:
        found = await billing.find_invoice(session, uuid.UUID(invoice["id"]))
        assert await billing.find_invoice(session, uuid.uuid4()) is None
    assert found is not None
    assert {name: getattr(found, name) for name in FIRST_FIELDS} == dict(
        id=uuid.UUID(invoice["id"]),
        number=invoice["number"],
        patient_id=uuid.UUID(invoice["patient_id"]),
        status="issued",
        currency="INR",
        total=D("1680.00"),
        patient_amount=D("168.00"),
        insurance_amount=D("1512.00"),
        amount_paid=D("0.00"),
        amount_pending=D("0.00"),
        balance_due=D("168.00"),
        insurance_paid=D("0.00"),
        kind="consultation",
        appointment_id=uuid.UUID(invoice["appointment_id"]),
        order_id=None,
        practitioner_id=uuid.UUID(invoice["practitioner_id"]),
    )
    assert found.service_date == found.issued_at.date()
    assert found.lines == tuple(
        billing.InvoiceLineSummary(
            line["code"], line["description"], line["quantity"], D(line["unit_price"]), D(line["amount"])
        )
        for line in invoice["lines"]
    )
    assert found.payable_now == D("168.00")


async def test_a_payment_is_reserved_then_settled_and_the_status_follows(env, invoice):
    held = await call(env, billing.reserve_payment, invoice["id"], D("100.00"))
    assert (held.amount_pending, held.balance_due, held.payable_now, held.status) == (
        D("100.00"),
        D("168.00"),
        D("68.00"),
        "issued",
    )
    settled = await call(env, billing.settle_payment, invoice["id"], D("100.00"), succeeded=True)
    assert (settled.amount_paid, settled.amount_pending, settled.balance_due, settled.status) == (
        D("100.00"),
        D("0.00"),
        D("68.00"),
        "partially_paid",
    )
    assert await outbox_payloads(env, "invoice.paid") == []

    await call(env, billing.reserve_payment, invoice["id"], D("68.00"))
    paid = await call(env, billing.settle_payment, invoice["id"], D("68.00"), succeeded=True)
    assert (paid.amount_paid, paid.balance_due, paid.status) == (D("168.00"), D("0.00"), "paid")

    body = await read(env, invoice["id"])
    assert (body["status"], body["amount_paid"], body["balance_due"], body["version"]) == ("paid", "168.00", "0.00", 5)
    assert await outbox_payloads(env, "invoice.paid") == [
        {
            "invoice_id": invoice["id"],
            "number": invoice["number"],
            "patient_id": invoice["patient_id"],
            "total": "1680.00",
            "patient_amount": "168.00",
            "amount_paid": "168.00",
            "currency": "INR",
            "paid_at": body["paid_at"],
            "kind": "consultation",
            "premium_billing_id": None,
            "credited_amount": "0.00",
        }
    ]


async def test_a_failed_payment_releases_its_reservation(env, invoice):
    await call(env, billing.reserve_payment, invoice["id"], D("168.00"))
    released = await call(env, billing.settle_payment, invoice["id"], D("168.00"), succeeded=False)
    assert (released.amount_pending, released.amount_paid, released.status) == (D("0.00"), D("0.00"), "issued")
    assert (await call(env, billing.reserve_payment, invoice["id"], D("168.00"))).amount_pending == D("168.00")


async def test_reservations_cannot_exceed_the_balance(env, invoice):
    await call(env, billing.reserve_payment, invoice["id"], D("100.00"))
    error = await refused(env, "AMOUNT_EXCEEDS_BALANCE", billing.reserve_payment, invoice["id"], D("68.01"))
    assert error.status == 409
    assert (await call(env, billing.reserve_payment, invoice["id"], D("68.00"))).payable_now == D("0.00")


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.001"])
async def test_a_reservation_must_be_a_positive_amount_of_cents(env, invoice, amount):
    assert (await refused(env, "VALIDATION_ERROR", billing.reserve_payment, invoice["id"], D(amount))).status == 422


async def test_paid_and_void_invoices_are_not_payable(env, invoice):
    await call(env, billing.reserve_payment, invoice["id"], D("168.00"))
    await call(env, billing.settle_payment, invoice["id"], D("168.00"), succeeded=True)
    await refused(env, "INVOICE_NOT_PAYABLE", billing.reserve_payment, invoice["id"], D("1.00"))

    other = await completed_visit_invoice(env)
    assert (await env.client.post(f"{INVOICES}/{other['id']}/void", headers=env.admin)).status_code == 200
    await refused(env, "INVOICE_NOT_PAYABLE", billing.reserve_payment, other["id"], D("1.00"))


async def test_unknown_invoices_and_other_patients_invoices_are_not_found(env, invoice):
    await refused(env, "INVOICE_NOT_FOUND", billing.reserve_payment, uuid.uuid4(), D("1.00"))
    await refused(env, "INVOICE_NOT_FOUND", billing.settle_payment, uuid.uuid4(), D("1.00"), succeeded=True)
    await refused(env, "INVOICE_NOT_FOUND", billing.record_refund, uuid.uuid4(), D("1.00"))

    stranger = Principal(user_id=uuid.uuid4(), roles=frozenset({"patient"}), patient_id=uuid.uuid4())
    await refused(env, "INVOICE_NOT_FOUND", billing.reserve_payment, invoice["id"], D("1.00"), actor=stranger)
    owner = Principal(user_id=uuid.uuid4(), roles=frozenset({"patient"}), patient_id=uuid.UUID(invoice["patient_id"]))
    assert (await call(env, billing.reserve_payment, invoice["id"], D("1.00"), actor=owner)).amount_pending == D("1.00")


async def test_settling_more_than_is_reserved_is_refused(env, invoice):
    await call(env, billing.reserve_payment, invoice["id"], D("10.00"))
    await refused(env, "NO_PAYMENT_PENDING", billing.settle_payment, invoice["id"], D("10.01"), succeeded=True)


async def test_refunds_lower_what_is_paid_and_the_status_steps_back(env, invoice):
    await call(env, billing.reserve_payment, invoice["id"], D("168.00"))
    await call(env, billing.settle_payment, invoice["id"], D("168.00"), succeeded=True)

    partly = await call(env, billing.record_refund, invoice["id"], D("68.00"))
    assert (partly.amount_paid, partly.balance_due, partly.status) == (D("100.00"), D("68.00"), "partially_paid")
    assert (await read(env, invoice["id"]))["paid_at"] is None
    await refused(env, "REFUND_EXCEEDS_AMOUNT_PAID", billing.record_refund, invoice["id"], D("100.01"))
    back = await call(env, billing.record_refund, invoice["id"], D("100.00"))
    assert (back.amount_paid, back.balance_due, back.status) == (D("0.00"), D("168.00"), "issued")

    # Paid again in full after the refunds: invoice.paid is published a second time.
    await call(env, billing.reserve_payment, invoice["id"], D("168.00"))
    await call(env, billing.settle_payment, invoice["id"], D("168.00"), succeeded=True)
    assert len(await outbox_payloads(env, "invoice.paid")) == 2


async def test_every_money_movement_is_audited(env, invoice):
    await call(env, billing.reserve_payment, invoice["id"], D("168.00"))
    await call(env, billing.settle_payment, invoice["id"], D("168.00"), succeeded=True)
    await call(env, billing.record_refund, invoice["id"], D("8.00"))
    actions = ("invoice.payment_reserve", "invoice.payment_settle", "invoice.refund")
    for action in actions:
        assert await env.count("audit_events", "action = :a AND entity_id = :id", a=action, id=invoice["id"]) == 1
