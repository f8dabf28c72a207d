"""Order invoices: what the orders saga asks billing to issue and void (through contract.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from caremesh.billing import domain
from caremesh.billing.coverage import coverage_percent
from caremesh.billing.domain import InvoiceStatus, Kind
from caremesh.billing.models import Invoice, InvoiceLine, Tariff
from caremesh.billing.service import BY_ORDER, _issue, _new_invoice, _void, _void_problem
from caremesh.billing.tariffs import ORDER_TARIFFS, TARIFFS, _pricing, _tax_rate
from caremesh.patients import contract as patients
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork


@dataclass(frozen=True)
class ChargeLine:
    code: str
    description: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderCharge:
    """What an order asks billing to invoice: its items priced by the pharmacy or lab catalogue."""

    order_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    kind: Kind  # medication | lab
    lines: tuple[ChargeLine, ...]


def _order_lines(charge: OrderCharge, fee_tariff: Tariff | None) -> list[InvoiceLine]:
    priced = [(c.code, c.description, c.quantity, domain.money(c.unit_price)) for c in charge.lines]
    if fee_tariff is not None:
        pricing = _pricing(fee_tariff)
        if isinstance(pricing, domain.Flat) and pricing.amount > 0:
            priced.append((fee_tariff.code, fee_tariff.description, 1, pricing.amount))
    return [
        InvoiceLine(position=n, code=code, description=text, quantity=qty, unit_price=price, amount=price * qty)
        for n, (code, text, qty, price) in enumerate(priced, start=1)
    ]


async def issue_for_order(uow: UnitOfWork, charge: OrderCharge) -> tuple[Invoice, bool]:
    """The order's invoice, issuing it if there is none yet: (invoice, issued now). Lines are
    quantity × catalogue price; no loyalty discount (it rewards visits); the tax rate and any per-order fee
    come from the kind's order tariff; the insurance split as for visits. One invoice per order (unique)."""
    if charge.kind not in ORDER_TARIFFS:
        raise ValueError(f"orders are invoiced as {sorted(ORDER_TARIFFS)}, not {charge.kind}")
    if not charge.lines:
        raise ValueError("an order's invoice needs at least one line")
    existing = await BY_ORDER.find(uow, charge.order_id)
    if existing is not None:
        return existing, False
    patient = await patients.find_patient(uow.session, charge.patient_id)
    if patient is None:
        raise patients.PatientNotFound("The order's patient no longer exists.")
    tariff = await TARIFFS.find(uow, ORDER_TARIFFS[charge.kind])
    lines = _order_lines(charge, tariff)
    service_date = clinic_date(uow.now())
    amounts = domain.invoice_amounts(
        sum((line.amount for line in lines), domain.ZERO),
        prior_visits=0,
        tax_rate=uow.settings.billing.tax_rate if tariff is None else _tax_rate(uow, tariff),
        coverage_percent=await coverage_percent(uow, patient, charge.kind, service_date),
    )
    invoice = _new_invoice(
        uow,
        patient,
        amounts,
        lines,
        kind=charge.kind,
        service_date=service_date,
        practitioner_id=charge.practitioner_id,
        order_id=charge.order_id,
    )
    return await _issue(uow, invoice, BY_ORDER, charge.order_id)


async def void_for_order(uow: UnitOfWork, order_id: uuid.UUID, reason: str) -> Invoice | None:
    """Void the order's invoice (compensation). None when it has none or it is void already;
    409 INVOICE_HAS_PAYMENTS when money has moved on it (refund first)."""
    invoice = await BY_ORDER.find(uow, order_id, for_update=True)
    if invoice is None or invoice.status == InvoiceStatus.VOID:
        return None
    if problem := _void_problem(invoice):
        raise problem
    return await _void(uow, invoice, reason)
