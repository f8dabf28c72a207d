"""Use cases of payments.

Creating a payment or a refund is idempotent per `Idempotency-Key` and may span two transactions,
because a card's gateway call must never run inside one:

  1. claim the key, reserve the amount (on the invoice for a payment, on the payment for a refund) and
     insert a `pending` record; cash, UPI and bank transfers complete right here;  commit
  2. ask the gateway, outside any transaction
  3. settle: complete or fail the record, store the response under the key;  commit
     (gateway unavailable: undo the reservation, delete the pending record, release the key;  commit)

A request that finds its key completed replays the stored response; one that finds it in progress
waits for it; one that finds it abandoned (its process died between 1 and 3, or the gateway adapter
failed unexpectedly) resumes it, asking the gateway again under the same gateway idempotency key, so the
card is never charged twice. An abandoned attempt nobody retries is resolved in the background
(`resolve_abandoned`, run by the job in jobs.py): the gateway is asked what it did under the key.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.audit import contract as audit
from caremesh.billing import contract as billing
from caremesh.payments import domain, methods, settlements
from caremesh.payments.attempts import SCOPE, Begin, Outcome, Pending, _abandoned_after, _Flow, _Kind
from caremesh.payments.domain import Method, PaymentStatus, RefundRefusal, RefundStatus
from caremesh.payments.errors import (
    IdempotencyKeyRequired,
    PaymentNotFound,
    PaymentNotRefundable,
    RefundDeclined,
    RefundExceedsPayment,
    RefundNotFound,
)
from caremesh.payments.events import PaymentCompleted, PaymentFailed, PaymentRefunded
from caremesh.payments.gateway import GatewayResult, PaymentGateway
from caremesh.payments.models import Payment, PaymentMethod, Refund
from caremesh.payments.schemas import (
    PaymentCreate,
    PaymentFilters,
    PaymentRead,
    RefundCreate,
    RefundFilters,
    RefundRead,
)
from caremesh.platform.db import violates
from caremesh.platform.errors import problem
from caremesh.platform.idempotency import keys as idempotency
from caremesh.platform.idempotency.keys import IdempotencyKeyInvalid, State
from caremesh.platform.idempotency.models import IdempotencyKey
from caremesh.platform.mapping import from_attributes
from caremesh.platform.numbering import next_number
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.settings import Settings
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork

PAYMENT_PREFIX = "PAY"
REFUND_PREFIX = "RFD"

PAYMENTS_SUCCEEDED = Counter("payments_success_total", "Payments completed", ["method"])
PAYMENTS_FAILED = Counter(
    "payments_failure_total", "Payment attempts that failed (declined, gateway unavailable)", ["method", "reason"]
)

PAYMENT_DECLINED = (402, "PAYMENT_DECLINED", "The payment was declined")

T = TypeVar("T", Payment, Refund)
E = TypeVar("E", PaymentCompleted, PaymentFailed)


# Pending payments are not shown to anyone; a patient-role principal sees only their own.
PAYMENTS: Repository[Payment] = audit.repository(
    Payment,
    PaymentNotFound,
    entity="payment",
    owner=Payment.patient_id,
    where=[Payment.status != PaymentStatus.PENDING],
    order_by=[Payment.created_at, Payment.id],  # the order they were made
)


# A refund is seen by whoever may see its payment; pending refunds by nobody.
REFUNDS: Repository[Refund] = audit.repository(
    Refund,
    RefundNotFound,
    entity="refund",
    owner=Payment.patient_id,
    where=[Refund.payment_id == Payment.id, Refund.status != RefundStatus.PENDING],
    order_by=[Refund.created_at, Refund.id],
    criteria={"invoice_id": lambda invoice_id: Payment.invoice_id == invoice_id},
)


def _declined_body(payment: Payment) -> dict[str, Any]:
    status, code, title = PAYMENT_DECLINED
    rendered = problem(
        status,
        code,
        title,
        f"The card was declined: {payment.failure_reason}.",
        payment_id=str(payment.id),
        reference=payment.reference,
        failure_reason=payment.failure_reason,
    )
    return json.loads(rendered.body)


async def _locked(uow: UnitOfWork, model: type[T], row_id: uuid.UUID) -> T:
    """The payment or refund step 1 created (it exists while its key is in progress), locked and re-read."""
    row = await uow.session.get(model, row_id, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def _payment_event(cls: type[E], payment: Payment, invoice: billing.InvoiceSummary, **given: Any) -> E:
    """payment.completed or payment.failed: the payment's fields, with its invoice's number."""
    return from_attributes(cls, payment, payment_id=payment.id, invoice_number=invoice.number, **given)


async def _finalise(uow: UnitOfWork, record: Payment | Refund, prefix: str, result: GatewayResult) -> None:
    """Step 3 for a payment or a refund the gateway answered: numbered now that its outcome is known (a pending
    record that is given up takes no number), with the gateway's reference."""
    now = uow.now()
    record.reference = await next_number(uow.session, prefix, clinic_date(now).year)
    record.gateway_reference = result.reference
    record.updated_at = now


class _PaymentKind(_Kind):
    entity_type, nothing_happened = "payment", "Nothing was charged."

    async def pending(self, uow: UnitOfWork, row: IdempotencyKey) -> Pending:
        assert row.resource_id is not None
        payment = await _locked(uow, Payment, row.resource_id)
        token = None
        if payment.payment_method_id is not None:  # the method was usable when the attempt began: it still pays it
            stored = await uow.session.get(PaymentMethod, payment.payment_method_id)
            token = stored.token if stored is not None else None
        return Pending(row.id, row.attempt, payment.id, payment.amount, payment.currency, card_token=token)

    async def look_up(self, pending: Pending) -> GatewayResult | None:
        return await self.gateway.find_charge(str(pending.key_id))

    async def settle(
        self, uow: UnitOfWork, row: IdempotencyKey, resource_id: uuid.UUID, result: GatewayResult
    ) -> Outcome:
        return await self.record(uow, row, await _locked(uow, Payment, resource_id), result)

    async def record(self, uow: UnitOfWork, row: IdempotencyKey, payment: Payment, result: GatewayResult) -> Outcome:
        invoice = await billing.settle_payment(uow, payment.invoice_id, payment.amount, succeeded=result.approved)
        await _finalise(uow, payment, PAYMENT_PREFIX, result)
        method = payment.method
        if result.approved:
            payment.status = PaymentStatus.COMPLETED
            payment.settlement_date = await settlements.counting_day(uow, uow.now())
            await uow.session.flush()
            uow.publish(_payment_event(PaymentCompleted, payment, invoice, balance_due=invoice.balance_due))
            uow.after_commit(PAYMENTS_SUCCEEDED.labels(method=method).inc)
            status, body = 201, PaymentRead.model_validate(payment, from_attributes=True).model_dump(mode="json")
        else:
            payment.status = PaymentStatus.FAILED
            payment.failure_reason = result.decline_reason or "declined"
            await uow.session.flush()
            uow.publish(_payment_event(PaymentFailed, payment, invoice))
            uow.after_commit(PAYMENTS_FAILED.labels(method=method, reason="declined").inc)
            status, body = PAYMENT_DECLINED[0], _declined_body(payment)
        idempotency.complete(uow, row, status, body)
        audit.record(uow, "payment.create", "payment", payment.id)
        return Outcome(status, body)

    async def undo(self, uow: UnitOfWork, resource_id: uuid.UUID) -> None:
        payment = await _locked(uow, Payment, resource_id)
        method = payment.method
        await billing.settle_payment(uow, payment.invoice_id, payment.amount, succeeded=False)
        await uow.session.delete(payment)  # never numbered, so no gap in the references
        await uow.session.flush()
        uow.after_commit(PAYMENTS_FAILED.labels(method=method, reason="gateway_unavailable").inc)
        audit.record(uow, "payment.abandon", "payment", resource_id)


class _PaymentFlow(_Flow):
    operation = "payment.create"
    kind: _PaymentKind

    def __init__(self, gateway: PaymentGateway, key: str, data: PaymentCreate) -> None:
        super().__init__(_PaymentKind(gateway), key, data.fingerprinted())
        self.data = data

    async def create(self, uow: UnitOfWork, row: IdempotencyKey) -> Outcome | Pending:
        data = self.data
        # Locks the invoice and holds the amount; 404 / 409 here roll the key's claim back with it.
        invoice = await billing.reserve_payment(uow, data.invoice_id, data.amount)
        stored = None
        if data.payment_method_id is not None:
            stored = await methods.usable(uow, data.payment_method_id, invoice.patient_id, data.method)
        now = uow.now()
        payment = Payment(
            id=uuid.uuid4(),
            invoice_id=invoice.id,
            patient_id=invoice.patient_id,
            amount=data.amount,
            currency=invoice.currency,
            method=data.method,
            status=PaymentStatus.PENDING,
            refunded_amount=Decimal("0.00"),
            payment_method_id=stored.id if stored is not None else None,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(payment)
        await uow.session.flush()
        row.resource_id = payment.id
        if not domain.goes_through_gateway(data.method):
            return await self.kind.record(uow, row, payment, GatewayResult(approved=True, reference=None))
        token = stored.token if stored is not None else None
        return Pending(row.id, row.attempt, payment.id, payment.amount, payment.currency, card_token=token)

    async def call_gateway(self, pending: Pending) -> GatewayResult:
        token = pending.card_token or self.data.card_token
        assert token is not None
        # Keyed by the Idempotency-Key's row, which outlives every attempt: a resumed or retried
        # payment asks the gateway under the same key and cannot be charged twice.
        return await self.kind.gateway.charge(token, pending.amount, pending.currency, str(pending.key_id))


class _RefundKind(_Kind):
    entity_type, nothing_happened = "refund", "Nothing was refunded."

    async def pending(self, uow: UnitOfWork, row: IdempotencyKey) -> Pending:
        assert row.resource_id is not None
        refund = await _locked(uow, Refund, row.resource_id)
        payment = await _locked(uow, Payment, refund.payment_id)
        return Pending(row.id, row.attempt, refund.id, refund.amount, refund.currency, payment.gateway_reference)

    async def look_up(self, pending: Pending) -> GatewayResult | None:
        return await self.gateway.find_refund(str(pending.key_id))

    async def settle(
        self, uow: UnitOfWork, row: IdempotencyKey, resource_id: uuid.UUID, result: GatewayResult
    ) -> Outcome:
        refund = await _locked(uow, Refund, resource_id)
        payment = await _locked(uow, Payment, refund.payment_id)
        if not result.approved:
            await self.give_up(uow, row, resource_id)
            raise RefundDeclined(f"The gateway declined the refund: {result.decline_reason}. Nothing was refunded.")
        return await self.record(uow, row, refund, payment, result)

    async def record(
        self, uow: UnitOfWork, row: IdempotencyKey, refund: Refund, payment: Payment, result: GatewayResult
    ) -> Outcome:
        invoice = await billing.record_refund(uow, payment.invoice_id, refund.amount)
        await _finalise(uow, refund, REFUND_PREFIX, result)
        refund.status = RefundStatus.COMPLETED
        refund.settlement_date = await settlements.counting_day(uow, uow.now())
        await uow.session.flush()
        refunded = from_attributes(
            PaymentRefunded,
            refund,  # its reference, amount, currency, reason and created_at
            refund_id=refund.id,
            payment_id=payment.id,
            payment_reference=payment.reference,
            invoice_id=payment.invoice_id,
            invoice_number=invoice.number,
            patient_id=payment.patient_id,
            balance_due=invoice.balance_due,
        )
        uow.publish(refunded)
        body = RefundRead.model_validate(refund, from_attributes=True).model_dump(mode="json")
        idempotency.complete(uow, row, 201, body)
        audit.record(uow, "payment.refund", "refund", refund.id)
        return Outcome(201, body)

    async def undo(self, uow: UnitOfWork, resource_id: uuid.UUID) -> None:
        refund = await _locked(uow, Refund, resource_id)
        payment = await _locked(uow, Payment, refund.payment_id)
        payment.refunded_amount = payment.refunded_amount - refund.amount
        payment.updated_at = uow.now()
        await uow.session.delete(refund)
        await uow.session.flush()
        audit.record(uow, "refund.abandon", "refund", resource_id)


class _RefundFlow(_Flow):
    operation = "refund.create"
    kind: _RefundKind

    def __init__(self, gateway: PaymentGateway, key: str, payment_id: uuid.UUID, data: RefundCreate) -> None:
        super().__init__(_RefundKind(gateway), key, {"payment_id": str(payment_id), **data.model_dump(mode="json")})
        self.payment_id = payment_id
        self.data = data

    async def create(self, uow: UnitOfWork, row: IdempotencyKey) -> Outcome | Pending:
        data = self.data
        # The lock serialises refunds of one payment; the CHECK on refunded_amount backs it up.
        payment = await PAYMENTS.load(uow, self.payment_id, for_update=True)
        refusal = domain.refund_refusal(
            PaymentStatus(payment.status), payment.amount, payment.refunded_amount, data.amount
        )
        if refusal is RefundRefusal.NOT_REFUNDABLE:
            raise PaymentNotRefundable(f"The payment is {payment.status}; only completed payments are refunded.")
        left, currency = domain.refundable(payment.amount, payment.refunded_amount), payment.currency
        if refusal is RefundRefusal.EXCEEDS_PAYMENT:
            raise _exceeds(left, currency)
        now = uow.now()
        payment.refunded_amount = payment.refunded_amount + data.amount
        payment.updated_at = now
        refund = Refund(
            id=uuid.uuid4(),
            payment_id=payment.id,
            amount=data.amount,
            currency=payment.currency,
            reason=data.reason,
            status=RefundStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(refund)
        try:
            await uow.session.flush()
        except IntegrityError as error:  # the session is unusable now: no attribute may be read
            if violates(error, "refunds_within_amount"):
                raise _exceeds(left, currency) from error
            raise
        row.resource_id = refund.id
        if not domain.goes_through_gateway(Method(payment.method)):
            return await self.kind.record(uow, row, refund, payment, GatewayResult(approved=True, reference=None))
        return Pending(row.id, row.attempt, refund.id, refund.amount, refund.currency, payment.gateway_reference)

    async def call_gateway(self, pending: Pending) -> GatewayResult:
        assert pending.charge_reference is not None, "card payments carry the gateway's charge id"
        return await self.kind.gateway.refund(
            pending.charge_reference, pending.amount, pending.currency, str(pending.key_id)
        )


def _exceeds(left: Decimal, currency: str) -> RefundExceedsPayment:
    return RefundExceedsPayment(f"At most {left} {currency} of this payment can still be refunded.")


async def create_payment(begin: Begin, gateway: PaymentGateway, key: str, data: PaymentCreate) -> Outcome:
    return await _PaymentFlow(gateway, key, data).run(begin)


async def create_refund(
    begin: Begin, gateway: PaymentGateway, key: str, payment_id: uuid.UUID, data: RefundCreate
) -> Outcome:
    return await _RefundFlow(gateway, key, payment_id, data).run(begin)


# Abandoned attempts: the process died between steps 1 and 3, or the gateway adapter failed unexpectedly.


async def abandoned_attempts(
    session: AsyncSession, now: datetime, settings: Settings, *, limit: int
) -> list[uuid.UUID]:
    """Key rows whose attempt counts as abandoned at `now`, oldest first."""
    return await idempotency.abandoned(session, SCOPE, now - _abandoned_after(settings), limit=limit)


async def _kind_of(uow: UnitOfWork, gateway: PaymentGateway, resource_id: uuid.UUID) -> _Kind:
    payment = await uow.session.get(Payment, resource_id)
    return _PaymentKind(gateway) if payment is not None else _RefundKind(gateway)


async def resolve_abandoned(begin: Begin, gateway: PaymentGateway, row_id: uuid.UUID) -> bool:
    """Settle one abandoned attempt from what the gateway did under its key, as its own request would have:
    charged or refunded -> completed (the response stored for a retry to replay); declined -> failed like any
    decline; never seen -> undone and the key released. False when it is no longer abandoned (finished or taken
    over by a retry meanwhile) or a retry settled it first.

    The resolver takes the attempt over like a retry does (`attempt` + 1, under the key row's lock), so a
    concurrent retry with the key waits for it and replays its outcome, and vice versa. If the gateway cannot
    answer, the takeover stands and the attempt counts as abandoned again later.
    """
    async with begin() as uow:
        row = await idempotency.take_over(uow, row_id, abandoned_after=_abandoned_after(uow.settings))
        if row is None:
            return False
        assert row.resource_id is not None
        kind = await _kind_of(uow, gateway, row.resource_id)
        pending = await kind.pending(uow, row)
        timeout = uow.settings.payments.payment_gateway_timeout_seconds
    async with asyncio.timeout(timeout):
        result = await kind.look_up(pending)
    try:
        async with begin() as uow:
            row = await idempotency.lock(uow, pending.key_id)
            if row.state != State.IN_PROGRESS or row.attempt != pending.attempt:
                return False  # a retry with the key took it over and settled it
            audit.record(uow, f"{kind.entity_type}.resolve", kind.entity_type, pending.resource_id)
            if result is None:
                await kind.give_up(uow, row, pending.resource_id)
            else:
                await kind.settle(uow, row, pending.resource_id, result)
    except RefundDeclined:  # committed: the refund was undone and its key released
        pass
    return True


def check_idempotency_key(raw: str | None) -> str:
    problem_found = idempotency.key_problem(raw)
    if problem_found is idempotency.KeyProblem.MISSING:
        raise IdempotencyKeyRequired("Send an Idempotency-Key header: a unique value per payment you mean to make.")
    if problem_found is idempotency.KeyProblem.INVALID:
        raise IdempotencyKeyInvalid(
            f"An Idempotency-Key is 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters."
        )
    assert raw is not None
    return raw


async def get_payment(uow: UnitOfWork, payment_id: uuid.UUID) -> Payment:
    return await PAYMENTS.get(uow, payment_id)


async def list_payments(uow: UnitOfWork, filters: PaymentFilters, page: PageParams) -> tuple[list[Payment], str | None]:
    return await PAYMENTS.list(uow, filters, page)


async def get_refund(uow: UnitOfWork, refund_id: uuid.UUID) -> Refund:
    return await REFUNDS.get(uow, refund_id)


async def list_refunds(uow: UnitOfWork, filters: RefundFilters, page: PageParams) -> tuple[list[Refund], str | None]:
    return await REFUNDS.list(uow, filters, page)
