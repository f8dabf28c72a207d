"""The database itself refuses payments, refunds and keys that break the rules, on SQLite as on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from caremesh.payments.models import Payment, Refund
from caremesh.platform.idempotency.models import IdempotencyKey

NOW = datetime(2030, 1, 7, 9, tzinfo=UTC)
_serial = iter(range(1, 10_000))


def payment_row(**overrides) -> dict:
    row = {
        "id": uuid.uuid4(),
        "reference": f"RAW-{next(_serial):06d}",
        "invoice_id": uuid.uuid4(),
        "patient_id": uuid.uuid4(),
        "amount": Decimal("100.00"),
        "currency": "INR",
        "method": "cash",
        "status": "completed",
        "failure_reason": None,
        "refunded_amount": Decimal("0.00"),
        "created_at": NOW,
        "updated_at": NOW,
    }
    row.update(overrides)
    return row


def key_row(**overrides) -> dict:
    row = {
        "id": uuid.uuid4(),
        "scope": "payments",
        "principal_id": uuid.UUID(int=1),
        "key": "k-1",
        "fingerprint": "0" * 64,
        "state": "in_progress",
        "attempt": 1,
        "created_at": NOW,
        "claimed_at": NOW,
    }
    row.update(overrides)
    return row


async def write(env, statement) -> None:
    async with env.db.engine.begin() as connection:
        await connection.execute(statement)


async def refused(env, statement, constraint: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        await write(env, statement)
    assert constraint in str(caught.value).lower()


async def test_a_valid_payment_row_is_accepted(env):
    await write(env, insert(Payment).values(**payment_row(refunded_amount=Decimal("100.00"))))
    await write(env, insert(Payment).values(**payment_row(status="pending", reference=None)))
    await write(env, insert(Payment).values(**payment_row(status="failed", failure_reason="card declined")))
    assert await env.count("payments") == 3


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"amount": Decimal("0.00")}, "amount_positive"),
        ({"amount": Decimal("-0.01")}, "amount_positive"),
        ({"refunded_amount": Decimal("100.01")}, "refunds_within_amount"),
        ({"refunded_amount": Decimal("-0.01")}, "refunds_within_amount"),
        ({"status": "failed", "failure_reason": "declined", "refunded_amount": Decimal("1.00")}, "refunds_only"),
        ({"status": "refunded"}, "status_known"),
        ({"method": "cheque"}, "method_known"),
        ({"reference": None}, "reference_when_final"),
        ({"status": "pending"}, "reference_when_final"),
        ({"status": "failed"}, "failure_reason_when_failed"),
        ({"failure_reason": "declined"}, "failure_reason_when_failed"),
    ],
)
async def test_a_payment_row_breaking_a_rule_is_refused(env, overrides, constraint):
    await refused(env, insert(Payment).values(**payment_row(**overrides)), constraint)
    assert await env.count("payments") == 0


async def test_refunding_a_row_beyond_its_amount_is_refused(env):
    row = payment_row(amount=Decimal("1234567.89"))
    await write(env, insert(Payment).values(**row))
    await write(env, update(Payment).where(Payment.id == row["id"]).values(refunded_amount=Decimal("1234567.89")))
    statement = update(Payment).where(Payment.id == row["id"]).values(refunded_amount=Decimal("1234567.90"))
    await refused(env, statement, "refunds_within_amount")


async def test_a_refund_row_must_be_positive_and_belong_to_a_payment(env):
    row = payment_row()
    await write(env, insert(Payment).values(**row))
    refund = {
        "payment_id": row["id"],
        "amount": Decimal("1.00"),
        "currency": "INR",
        "reason": "x",
        "status": "completed",
        "created_at": NOW,
        "updated_at": NOW,
    }

    def refund_row(**overrides) -> dict:
        return {**refund, "id": uuid.uuid4(), "reference": f"RAW-R-{next(_serial)}", **overrides}

    await write(env, insert(Refund).values(**refund_row()))
    await refused(env, insert(Refund).values(**refund_row(amount=Decimal("0.00"))), "amount_positive")
    await refused(env, insert(Refund).values(**refund_row(reference=None)), "reference_when_final")
    await refused(env, insert(Refund).values(**refund_row(payment_id=uuid.uuid4())), "foreign key")
    assert await env.count("refunds") == 1


async def test_one_row_per_scope_principal_and_key(env):
    await write(env, insert(IdempotencyKey).values(**key_row()))
    await write(env, insert(IdempotencyKey).values(**key_row(principal_id=uuid.UUID(int=2))))
    await write(env, insert(IdempotencyKey).values(**key_row(key="k-2")))
    with pytest.raises(IntegrityError):
        await write(env, insert(IdempotencyKey).values(**key_row()))
    assert await env.count("idempotency_keys") == 3


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"state": "completed"}, "response_when_completed"),
        ({"response_status": 201, "response_body": {"id": "x"}}, "response_when_completed"),
        ({"state": "done"}, "state_known"),
        ({"attempt": 0}, "attempt_positive"),
    ],
)
async def test_a_key_row_breaking_a_rule_is_refused(env, overrides, constraint):
    await refused(env, insert(IdempotencyKey).values(**key_row(**overrides)), constraint)
