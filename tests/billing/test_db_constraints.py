"""The database refuses inconsistent invoices by itself, on SQLite (money as text) and PostgreSQL (NUMERIC).

Each case breaks one rule with figures where comparing the text would say yes ("1000.00" < "168.00").
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from caremesh.billing.models import Invoice, InvoiceLine
from tests.builders.billing import completed_visit_invoice

D = Decimal


@pytest.fixture
async def invoice(env) -> dict:
    """total 1680.00 = 1500.00 + 180.00 tax; insurance 1512.00, patient 168.00."""
    return await completed_visit_invoice(env, experience_years=26)


async def refuses(env, invoice_id, constraints: set[str], **changes) -> None:
    async with env.db.sessionmaker() as session:
        row = await session.get(Invoice, uuid.UUID(invoice_id))
        for field, value in changes.items():
            setattr(row, field, value)
        with pytest.raises(IntegrityError) as raised:
            await session.flush()
        await session.rollback()
    message = str(raised.value.orig)
    assert any(name in message for name in constraints), message


async def accepts(env, invoice_id, **changes) -> None:
    async with env.db.sessionmaker() as session, session.begin():
        row = await session.get(Invoice, uuid.UUID(invoice_id))
        for field, value in changes.items():
            setattr(row, field, value)


@pytest.mark.parametrize(
    ("changes", "constraints"),
    [
        ({"amount_pending": D("1000.00")}, {"payments_within_patient_amount"}),
        (
            {"amount_paid": D("1000.00"), "status": "paid"},
            {"payments_within_patient_amount", "status_matches_payments"},
        ),
        (
            {"amount_paid": D("-1.00")},
            {"amount_paid_not_negative", "amounts_not_negative", "status_matches_payments"},
        ),
        ({"amount_pending": D("-0.01")}, {"amount_pending_not_negative", "amounts_not_negative"}),
        ({"tax_amount": D("180.01")}, {"total_adds_up"}),
        ({"insurance_amount": D("1512.01")}, {"split_adds_up"}),
        ({"insurance_paid": D("10000.00")}, {"insurance_paid_within"}),
        ({"status": "paid"}, {"status_matches_payments"}),
        ({"status": "void", "amount_pending": D("10.00")}, {"status_matches_payments"}),
        ({"status": "settled"}, {"status_known"}),
        ({"discount_percent": 101}, {"discount_percent_range"}),
        # Credit: paid + pending + credited never exceed the patient's share; the status follows credit too.
        ({"credited_amount": D("-0.01")}, {"credited_amount_not_negative", "status_matches_payments"}),
        (
            {"credited_amount": D("168.01"), "status": "paid"},
            {"payments_within_patient_amount", "status_matches_payments"},
        ),
        (
            {"credited_amount": D("100.00"), "amount_paid": D("68.01"), "status": "paid"},
            {"payments_within_patient_amount", "status_matches_payments"},
        ),
        ({"credited_amount": D("100.00"), "amount_pending": D("68.01")}, {"payments_within_patient_amount"}),
        ({"credited_amount": D("168.00")}, {"status_matches_payments"}),  # settled by credit, yet "issued"
        (
            {"credited_amount": D("68.00"), "amount_paid": D("100.00"), "status": "partially_paid"},
            {"status_matches_payments"},
        ),
        ({"credited_amount": D("1.00"), "status": "void"}, {"status_matches_payments"}),
        ({"kind": "premium"}, {"premium_names_its_billing"}),
        ({"premium_billing_id": uuid.uuid4()}, {"premium_names_its_billing"}),
        ({"kind": "gift"}, {"kind_known"}),
    ],
)
async def test_inconsistent_invoices_are_refused(env, invoice, changes, constraints):
    await refuses(env, invoice["id"], constraints, **changes)


async def test_consistent_changes_are_accepted(env, invoice):
    # The same columns, moved together the way the contract moves them.
    await accepts(env, invoice["id"], amount_pending=D("100.00"))
    await accepts(env, invoice["id"], amount_pending=D("0.00"), amount_paid=D("100.00"), status="partially_paid")
    await accepts(env, invoice["id"], amount_paid=D("168.00"), status="paid")
    await accepts(env, invoice["id"], insurance_paid=D("1512.00"))


async def test_credit_moves_with_payments_the_way_credit_notes_move_it(env, invoice):
    await accepts(env, invoice["id"], credited_amount=D("68.00"))
    await accepts(env, invoice["id"], amount_pending=D("100.00"))
    await accepts(env, invoice["id"], amount_pending=D("0.00"), amount_paid=D("100.00"), status="paid")
    await accepts(env, invoice["id"], amount_paid=D("50.00"), status="partially_paid")


async def test_one_premium_invoice_per_premium_billing(env, invoice):
    billing_id = uuid.uuid4()
    await _copy_of(env, invoice, kind="premium", appointment_id=None, premium_billing_id=billing_id)
    with pytest.raises(IntegrityError) as raised:
        await _copy_of(env, invoice, kind="premium", appointment_id=None, premium_billing_id=billing_id)
    message = str(raised.value.orig)
    assert "uq_invoices_premium_billing_id" in message or "invoices.premium_billing_id" in message, message


async def _copy_of(env, invoice, **changes) -> None:
    """Insert a copy of the invoice (another id and number) with `changes`."""
    async with env.db.sessionmaker() as session:
        original = await session.get(Invoice, uuid.UUID(invoice["id"]))
        copy = Invoice(
            **{
                c.key: getattr(original, c.key)
                for c in Invoice.__mapper__.column_attrs
                if c.key not in ("id", "number")
            },
        )
        copy.id, copy.number = uuid.uuid4(), f"INV-2030-{uuid.uuid4().int % 999999:06d}"
        for name, value in changes.items():
            setattr(copy, name, value)
        session.add(copy)
        await session.flush()
        await session.commit()


async def test_one_consultation_invoice_per_appointment(env, invoice):
    with pytest.raises(IntegrityError) as raised:
        await _copy_of(env, invoice)
    message = str(raised.value.orig)
    assert "uq_invoices_consultation_appointment" in message or "invoices.appointment_id" in message, message

    # Supplementary invoices (kind procedure) of the visit are not its consultation invoice.
    await _copy_of(env, invoice, kind="procedure")
    await _copy_of(env, invoice, kind="procedure")
    assert await env.count("invoices", "kind = 'procedure'") == 2


async def test_a_line_amount_is_its_quantity_times_its_price(env, invoice):
    async with env.db.sessionmaker() as session:
        session.add(
            InvoiceLine(
                invoice_id=uuid.UUID(invoice["id"]),
                position=2,
                code="X",
                description="x",
                quantity=3,
                unit_price=D("200.00"),
                amount=D("500.00"),
            )
        )
        with pytest.raises(IntegrityError) as raised:
            await session.flush()
    assert "amount_is_quantity_times_price" in str(raised.value.orig)
