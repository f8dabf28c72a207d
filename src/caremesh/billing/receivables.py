"""Accounts receivable: open balances aged by patient and by payer."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus
from caremesh.billing.models import Invoice
from caremesh.billing.schemas import AccountsReceivableRead, AgingRead, PatientAgingRead, PayerAgingRead
from caremesh.platform.timeutil import clinic_date, clinic_timezone
from caremesh.platform.uow import UnitOfWork

PATIENT_PAYER = "patient"


def _payer(bin_: str | None, pcn: str | None) -> str:
    return "/".join(part for part in (bin_, pcn) if part) or "insurer"


def _aging_read(aging: domain.Aging) -> dict[str, Any]:
    return {"buckets": dict(aging.buckets), "total": aging.total}


async def accounts_receivable(uow: UnitOfWork, as_of: date | None) -> AccountsReceivableRead:
    """Open balances of non-void invoices issued on or before `as_of` (clinic-local), aged from the
    clinic-local issue date. Balances are today's: payments after `as_of` are not taken back."""
    as_of = as_of or clinic_date(uow.now())
    day_after = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=clinic_timezone()).astimezone(UTC)
    rows = await uow.session.execute(
        select(
            Invoice.patient_id,
            Invoice.issued_at,
            Invoice.patient_amount,
            Invoice.amount_paid,
            Invoice.credited_amount,
            Invoice.insurance_amount,
            Invoice.insurance_paid,
            Invoice.insurance_bin,
            Invoice.insurance_pcn,
        ).where(Invoice.status != InvoiceStatus.VOID, Invoice.issued_at < day_after)
    )
    by_patient: list[tuple[str, date, Decimal]] = []
    by_payer: list[tuple[str, date, Decimal]] = []
    for patient_id, issued_at, patient_amount, paid, credited, insurance_amount, insurance_paid, bin_, pcn in rows:
        issued_on = clinic_date(issued_at)
        patient_open = domain.balance_due(patient_amount, credited, paid)  # credit notes close part of it
        insurer_open = insurance_amount - insurance_paid
        by_patient += [(str(patient_id), issued_on, patient_open), (str(patient_id), issued_on, insurer_open)]
        by_payer += [(PATIENT_PAYER, issued_on, patient_open), (_payer(bin_, pcn), issued_on, insurer_open)]
    patients_aged = domain.age(by_patient, as_of)
    payers_aged = domain.age(by_payer, as_of)
    totals = domain.Aging.empty()
    for aging in payers_aged.values():
        for bucket, amount in aging.buckets.items():
            totals.add(bucket, amount)
    audit.record(uow, "accounts_receivable.read", "invoice", None)
    return AccountsReceivableRead(
        as_of=as_of,
        currency=uow.settings.app.currency,
        totals=AgingRead(**_aging_read(totals)),
        by_patient=[
            PatientAgingRead(patient_id=uuid.UUID(key), **_aging_read(aging))
            for key, aging in sorted(patients_aged.items(), key=lambda item: (-item[1].total, item[0]))
        ],
        by_payer=[
            PayerAgingRead(payer=key, **_aging_read(aging))
            for key, aging in sorted(payers_aged.items(), key=lambda item: (item[0] != PATIENT_PAYER, item[0]))
        ],
    )
