"""The daily settlement: what a clinic day brought in, and closing the day so its figures never change.

Every completed payment and refund carries the clinic day it counts on (`settlement_date`), given when it completes:
its clinic date (CAREMESH_TIMEZONE), or the first day after it that is not closed. A day's figures are the money
with that date, so a closed day's snapshot stays true for ever: nothing joins a closed day.

The race between a refund completing at 23:59 and the day being closed is settled by the day's `settlements` row:
completing takes it in share mode (many payments of one day never wait for each other), closing takes it
exclusively. Whichever comes second sees the first: a refund waits for the close and then moves to the next open
day, or the close waits for the refund and counts it. (SQLite: write transactions are serial anyway.)

    net = payments - refunds + remittances

Payments: completed payments of the day, by method. Refunds: completed refunds of the day, by the method of the
payment they give back from. Remittances: what insurers' remittances processed that clinic day posted to claims
(claims' contract), per payer.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.claims import contract as claims
from caremesh.payments import domain
from caremesh.payments.domain import Method, PaymentStatus, RefundStatus, SettlementStatus
from caremesh.payments.errors import SettlementDayInFuture
from caremesh.payments.models import Payment, Refund, Settlement
from caremesh.payments.schemas import SettlementRead
from caremesh.platform.db import dialect_insert
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

ZERO = Decimal("0.00")


async def _day_row(uow: UnitOfWork, day: date, *, exclusive: bool) -> Settlement:
    """The day's row, created open if it is not there yet, locked (share or exclusive) and re-read."""
    session = uow.session
    await session.execute(
        dialect_insert(session)(Settlement)
        .values(day=day, status=SettlementStatus.OPEN, created_at=uow.now())
        .on_conflict_do_nothing(index_elements=["day"])
    )
    row = await session.scalar(
        select(Settlement)
        .where(Settlement.day == day)
        .with_for_update(read=not exclusive)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def counting_day(uow: UnitOfWork, completed_at: datetime) -> date:
    """The settlement day of money completing at `completed_at`: its clinic date, or the first open day after it.
    The day's row stays locked in share mode until the caller commits, so the day cannot be closed meanwhile."""
    day = clinic_date(completed_at)
    while (await _day_row(uow, day, exclusive=False)).status == SettlementStatus.CLOSED:
        day += timedelta(days=1)
    return day


async def _figures(uow: UnitOfWork, day: date) -> dict[str, Any]:
    """The day's figures as they stand (rendered as the API answers them, which is what a close freezes)."""
    session = uow.session
    paid = await session.execute(
        select(Payment.method, Payment.amount).where(
            Payment.settlement_date == day, Payment.status == PaymentStatus.COMPLETED
        )
    )
    refunded = await session.execute(
        select(Payment.method, Refund.amount)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Refund.settlement_date == day, Refund.status == RefundStatus.COMPLETED)
    )
    remitted = await claims.remittances_received(session, day)
    payments, refunds = _by_method(paid.all()), _by_method(refunded.all())
    remittances = {
        "count": sum(payer.count for payer in remitted),
        "amount": sum((payer.posted_amount for payer in remitted), ZERO),
        "by_payer": [
            {"payer_code": payer.payer_code, "count": payer.count, "amount": payer.posted_amount} for payer in remitted
        ],
    }
    figures = {
        "date": day,
        "currency": uow.settings.app.currency,
        "status": SettlementStatus.OPEN,
        "payments": payments,
        "refunds": refunds,
        "remittances": remittances,
        "net": domain.net_of_day(payments["amount"], refunds["amount"], remittances["amount"]),
        "closed_at": None,
        "closed_by": None,
    }
    return SettlementRead.model_validate(figures).model_dump(mode="json")


def _by_method(rows: list[Any]) -> dict[str, Any]:
    """Count and total per method (every method, zeros included), summed exactly in Decimal."""
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for method, amount in rows:
        counts[method] += 1
        amounts[method] += amount
    return {
        "count": sum(counts.values()),
        "amount": sum(amounts.values(), ZERO),
        "by_method": [
            {"method": method, "count": counts[method.value], "amount": amounts[method.value]} for method in Method
        ],
    }


def _frozen(row: Settlement) -> SettlementRead:
    assert row.figures is not None
    return SettlementRead.model_validate(
        {**row.figures, "status": row.status, "closed_at": row.closed_at, "closed_by": row.closed_by}
    )


async def get_settlement(uow: UnitOfWork, day: date) -> SettlementRead:
    """A closed day's frozen figures, or an open day's as they stand now."""
    row = await uow.session.get(Settlement, day)
    if row is not None and row.status == SettlementStatus.CLOSED:
        return _frozen(row)
    return SettlementRead.model_validate(await _figures(uow, day))


async def close_settlement(uow: UnitOfWork, day: date, closed_by: uuid.UUID) -> SettlementRead:
    """Freeze the day's figures. Closing a closed day answers its frozen figures again and changes nothing; of
    concurrent closes one closes, the others wait for its lock and answer what it froze."""
    if day > clinic_date(uow.now()):
        raise SettlementDayInFuture(f"{day} has not begun yet at the clinic; close a day once its money is in.")
    row = await _day_row(uow, day, exclusive=True)
    if row.status == SettlementStatus.CLOSED:
        return _frozen(row)
    # Read after the exclusive lock: every payment or refund that took the day has committed by now.
    figures = await _figures(uow, day)
    row.figures = {key: value for key, value in figures.items() if key not in ("status", "closed_at", "closed_by")}
    row.status = SettlementStatus.CLOSED
    row.closed_at = uow.now()
    row.closed_by = closed_by
    await uow.session.flush()
    audit.record(uow, "settlement.close", "settlement", day.isoformat())
    return _frozen(row)
