"""Manual invoices: what the billing desk invoices outside a visit or an order (kind `manual`), and premium invoices:
what insurance's `premium.billed` asks billing to invoice (kind `premium`, one per premium billing).

A manual invoice is priced as any invoice (lines, tax, insurance split) with one tax rate and one insurance category,
as claims adjudicate an invoice under one category: those of its tariff lines, which must agree (else 422
MIXED_CHARGES: one manual invoice per kind of charge). Free-text lines take the invoice's; an invoice of free-text
lines only is taxed at `CAREMESH_TAX_RATE` and split as a `procedure` (a service done at the clinic). No loyalty
discount: it rewards visits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from caremesh.billing import domain
from caremesh.billing.coverage import INSURANCE_CATEGORIES, coverage_percent
from caremesh.billing.domain import Kind
from caremesh.billing.models import Invoice, InvoiceLine, Tariff
from caremesh.billing.schemas import FreeLineIn, ManualInvoiceCreate, TariffLineIn
from caremesh.billing.service import ANY_INVOICE, BY_PREMIUM_BILLING, _issue, _new_invoice
from caremesh.billing.tariffs import _pricing, _tax_rate
from caremesh.insurance.contract import PremiumBilled
from caremesh.patients import contract as patients
from caremesh.platform.errors import invalid_field
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

FREE_TEXT_CODE = "MANUAL"  # the code of a line the desk priced by hand
PREMIUM_CODE = "PREMIUM"
FREE_TEXT_KIND = Kind.PROCEDURE  # what an invoice of free-text lines only is split as


@dataclass(frozen=True)
class _Priced:
    line: InvoiceLine
    kind: Kind | None  # the tariff's; None for free text
    tax_rate: Decimal | None  # the tariff's effective rate; None for free text


def _tariff_price(tariff: Tariff, loc: str) -> Decimal:
    """Flat: its amount; hourly: its rate per unit. Experience bands price a practitioner, whom a manual invoice
    does not name."""
    pricing = _pricing(tariff)
    match pricing:
        case domain.Flat(amount=amount):
            return domain.money(amount)
        case domain.Hourly(rate=rate):
            return domain.money(rate)
    raise invalid_field(
        loc,
        f"{tariff.code} is priced by the practitioner's experience; invoice it with a visit or as a free-text line",
        code="TARIFF_NEEDS_PRACTITIONER",
    )


async def _priced_lines(uow: UnitOfWork, data: ManualInvoiceCreate) -> list[_Priced]:
    codes = {line.tariff_code for line in data.lines if isinstance(line, TariffLineIn)}
    found = await uow.session.scalars(select(Tariff).where(Tariff.code.in_(codes))) if codes else []
    tariffs = {tariff.code: tariff for tariff in found}
    priced: list[_Priced] = []
    for position, given in enumerate(data.lines, start=1):
        loc = f"body.lines.{position - 1}"
        if isinstance(given, FreeLineIn):
            line = _line(position, FREE_TEXT_CODE, given.description, given.quantity, given.unit_price)
            priced.append(_Priced(line, None, None))
            continue
        tariff = tariffs.get(given.tariff_code)
        if tariff is None:
            raise invalid_field(
                f"{loc}.tariff_code", f"no tariff has the code {given.tariff_code}", code="UNKNOWN_TARIFF"
            )
        price = _tariff_price(tariff, f"{loc}.tariff_code")
        line = _line(position, tariff.code, tariff.description, given.quantity, price)
        priced.append(_Priced(line, Kind(tariff.kind), _tax_rate(uow, tariff)))
    return priced


def _line(position: int, code: str, description: str, quantity: int, unit_price: Decimal) -> InvoiceLine:
    return InvoiceLine(
        position=position,
        code=code,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        amount=domain.money(unit_price * quantity),
    )


def _one_kind_and_rate(uow: UnitOfWork, priced: list[_Priced]) -> tuple[Kind, Decimal]:
    """The invoice's kind of charge (its insurance category) and tax rate: its tariff lines', which must agree."""
    kinds = {p.kind for p in priced if p.kind is not None}
    rates = {p.tax_rate for p in priced if p.tax_rate is not None}
    if len(kinds) > 1 or len(rates) > 1:
        raise invalid_field(
            "body.lines",
            f"the tariffs are of different kinds or tax rates ({', '.join(sorted(kinds))}): "
            "issue one manual invoice per kind of charge",
            code="MIXED_CHARGES",
        )
    kind = kinds.pop() if kinds else FREE_TEXT_KIND
    return kind, rates.pop() if rates else uow.settings.billing.tax_rate


async def issue_manual_invoice(uow: UnitOfWork, data: ManualInvoiceCreate) -> Invoice:
    """A new invoice of kind `manual` for the patient (404 PATIENT_NOT_FOUND when unknown)."""
    patient = await patients.find_patient(uow.session, data.patient_id)
    if patient is None:
        raise patients.PatientNotFound()
    priced = await _priced_lines(uow, data)
    kind, tax_rate = _one_kind_and_rate(uow, priced)
    lines = [p.line for p in priced]
    service_date = clinic_date(uow.now())
    amounts = domain.amounts_at(
        sum((line.amount for line in lines), domain.ZERO),
        0,
        tax_rate=tax_rate,
        coverage_percent=await coverage_percent(uow, patient, kind, service_date),
    )
    invoice = _new_invoice(
        uow,
        patient,
        amounts,
        lines,
        kind=Kind.MANUAL,
        service_date=service_date,
        practitioner_id=None,
        insurance_category=INSURANCE_CATEGORIES[kind],
    )
    issued, _ = await _issue(uow, invoice, ANY_INVOICE, invoice.id)
    return issued


async def issue_premium_invoice(uow: UnitOfWork, premium: PremiumBilled) -> tuple[Invoice, bool]:
    """The premium billing's invoice, issuing it the first time: (invoice, issued now). One line (the premium's
    description, 1 × the amount), no discount, no insurance share (the member pays the insurer), taxed at
    `CAREMESH_PREMIUM_TAX_RATE`. One per premium billing (a unique index): a redelivered or duplicated event finds
    it."""
    existing = await BY_PREMIUM_BILLING.find(uow, premium.premium_billing_id)
    if existing is not None:
        return existing, False
    patient = await patients.find_patient(uow.session, premium.patient_id)
    if patient is None:
        raise patients.PatientNotFound("The premium's member is not a patient.")
    price = domain.money(premium.amount)
    line = _line(1, PREMIUM_CODE, premium.description[:200], 1, price)
    amounts = domain.amounts_at(price, 0, tax_rate=uow.settings.billing.premium_tax_rate, coverage_percent=domain.ZERO)
    invoice = _new_invoice(
        uow,
        patient,
        amounts,
        [line],
        kind=Kind.PREMIUM,
        service_date=clinic_date(premium.billed_at),
        practitioner_id=None,
        premium_billing_id=premium.premium_billing_id,
    )
    invoice.currency = premium.currency
    invoice.insurance_bin = invoice.insurance_pcn = None  # nothing is claimed from an insurer
    return await _issue(uow, invoice, BY_PREMIUM_BILLING, premium.premium_billing_id, at_commit=True)
