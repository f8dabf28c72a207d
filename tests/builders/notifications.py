from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from caremesh.claims import contract as claims
from caremesh.insurance import contract as insurance
from caremesh.orders import contract as orders
from caremesh.payments import contract as payments
from caremesh.platform.messaging.consumer import tables_of
from caremesh.platform.messaging.envelope import Envelope
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, assert_problem, every_page, outbox_rows

__all__ = ["assert_problem"]  # re-exported for the notification suites

API = "/api/v1"
URL = f"{API}/notifications"
TEMPLATES = f"{API}/notification-templates"


# --- events other contexts publish ----------------------------------------------------------------


def invoice_issued(patient_id: str, **overrides: Any) -> dict[str, Any]:
    """An invoice.issued payload as billing/events.py describes it."""
    payload: dict[str, Any] = {
        "invoice_id": str(uuid.uuid4()),
        "number": "INV-2030-000007",
        "patient_id": str(patient_id),
        "appointment_id": str(uuid.uuid4()),
        "order_id": None,
        "subtotal": "1500.00",
        "discount_amount": "75.00",
        "tax_amount": "171.00",
        "total": "1596.00",
        "insurance_amount": "0.00",
        "patient_amount": "1596.00",
        "balance_due": "1596.00",
        "currency": "INR",
        "issued_at": "2030-01-07T10:40:00Z",
    }
    payload.update(overrides)
    return payload


def payment_completed(patient_id: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "payment_id": str(uuid.uuid4()),
        "reference": "PAY-2030-000003",
        "invoice_id": str(uuid.uuid4()),
        "invoice_number": "INV-2030-000007",
        "patient_id": str(patient_id),
        "amount": "596.00",
        "method": "bank_transfer",
        "currency": "INR",
        "balance_due": "1000.00",
        "created_at": "2030-01-07T11:00:00Z",
    }
    payload.update(overrides)
    return payload


def payment_failed(patient_id: str, **overrides: Any) -> dict[str, Any]:
    payload = payment_completed(patient_id, reference="PAY-2030-000004", failure_reason="card_declined")
    payload.pop("balance_due")
    payload.update(overrides)
    return payload


def order_failed(patient_id: str, **overrides: Any) -> dict[str, Any]:
    """An order.failed payload as orders/events.py describes it."""
    payload: dict[str, Any] = {
        "order_id": str(uuid.uuid4()),
        "number": "ORD-2030-000002",
        "patient_id": str(patient_id),
        "type": "prescription",
        "failure_reason": "INSUFFICIENT_STOCK",
        "failed_at": "2030-01-07T11:00:00Z",
    }
    payload.update(overrides)
    return payload


def lab_result_ready(patient_id: str, **overrides: Any) -> dict[str, Any]:
    """A lab.result_ready payload as lab/events.py describes it (of an order this test never placed)."""
    payload: dict[str, Any] = {
        "lab_order_id": str(uuid.uuid4()),
        "order_id": str(uuid.uuid4()),
        "patient_id": str(patient_id),
        "lab_test_id": str(uuid.uuid4()),
        "order_fully_resulted": True,
        "resulted_at": "2030-01-07T11:00:00Z",
    }
    payload.update(overrides)
    return payload


async def event_ids(env: Any, event_type: str) -> list[str]:
    """Ids of the outbox events of one type, oldest first."""
    return [str(row.id) for row in await outbox_rows(env, event_type)]


async def publish(env: Any, event_type: str, payload: dict[str, Any]) -> Envelope:
    """Publish an event as its context would (through the outbox); `env.drain()` delivers it."""
    async with env.uow() as uow:
        return uow.publish_payload(event_type, payload)


async def advance(env: Any, **delta: float) -> None:
    """Move the clock on and log the admin in again: access tokens live 15 minutes."""
    env.clock.advance(**delta)
    env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)


# --- the API -------------------------------------------------------------------------------------


def send_body(**overrides: Any) -> dict[str, Any]:
    """A message written by hand to an address; override to send to a patient or from a template."""
    body: dict[str, Any] = {
        "recipient": "ward-7@clinic.example.org",
        "channel": "email",
        "subject": "Visiting hours",
        "body": "Visiting hours change on Monday.",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def send(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> Any:
    """POST /notifications/send and return the raw response (a None override drops that field)."""
    return await env.client.post(f"{URL}/send", json=send_body(**overrides), headers=headers or env.admin)


async def make_notification(env: Any, **overrides: Any) -> dict[str, Any]:
    response = await send(env, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


async def list_notifications(env: Any, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    """Every page of GET /notifications with these filters."""
    return await every_page(env, URL, headers, **params)


async def messages_of(env: Any, event: Envelope) -> dict[str, dict[str, Any]]:
    """The messages an event made, by channel."""
    found = await list_notifications(env, source_event_id=event.id)
    by_channel = {m["channel"]: m for m in found}
    assert len(by_channel) == len(found), found
    return by_channel


async def put_template(
    env: Any, code: str, body: str, subject: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> Any:
    payload = {"body": body, **({"subject": subject} if subject is not None else {}), **extra}
    return await env.client.put(f"{TEMPLATES}/{code}", json=payload, headers=headers or env.admin)


# --- issue 16's events, built from the publishers' own classes -----------------------------------------


def _when(hour: int) -> datetime:
    return datetime(2030, 1, 7, hour, 0, tzinfo=UTC)


def order_confirmed(patient_id: str, **overrides: Any) -> dict[str, Any]:
    event = orders.OrderConfirmed(
        order_id=uuid.uuid4(),
        number="ORD-2030-000003",
        patient_id=uuid.UUID(str(patient_id)),
        type="lab",
        invoice_id=uuid.uuid4(),
        confirmed_at=_when(10),
    )
    return {**event.to_payload(), **overrides}


def order_cancelled(patient_id: str, **overrides: Any) -> dict[str, Any]:
    event = orders.OrderCancelled(
        order_id=uuid.uuid4(),
        number="ORD-2030-000004",
        patient_id=uuid.UUID(str(patient_id)),
        type="prescription",
        reason=None,
        cancelled_at=_when(11),
    )
    return {**event.to_payload(), **overrides}


def payment_refunded(patient_id: str, **overrides: Any) -> dict[str, Any]:
    event = payments.PaymentRefunded(
        refund_id=uuid.uuid4(),
        reference="RFD-2030-000001",
        payment_id=uuid.uuid4(),
        payment_reference="PAY-2030-000003",
        invoice_id=uuid.uuid4(),
        invoice_number="INV-2030-000007",
        patient_id=uuid.UUID(str(patient_id)),
        amount=Decimal("250"),
        currency="INR",
        reason="Overpaid at the desk",
        balance_due=Decimal("250.00"),
        created_at=_when(12),
    )
    return {**event.to_payload(), **overrides}


def coverage_created(patient_id: str, **overrides: Any) -> dict[str, Any]:
    event = insurance.CoverageCreated(
        coverage_id=uuid.uuid4(),
        patient_id=uuid.UUID(str(patient_id)),
        scheme_id=uuid.uuid4(),
        payer_id=uuid.uuid4(),
        valid_from=date(2030, 1, 1),
        valid_to=None,
        created_at=_when(9),
    )
    return {**event.to_payload(), **overrides}


def claim_adjudicated(patient_id: str, **overrides: Any) -> dict[str, Any]:
    event = claims.ClaimAdjudicated(
        claim_id=uuid.uuid4(),
        number="CLM-2030-000005",
        invoice_id=uuid.uuid4(),
        patient_id=uuid.UUID(str(patient_id)),
        status="partially_approved",
        approved_amount=Decimal("1200.00"),
        claimed_amount=Decimal("1436.40"),
        manual=False,
        adjudicated_at=_when(13),
    )
    return {**event.to_payload(), **overrides}


def claim_paid(patient_id: str, **overrides: Any) -> dict[str, Any]:
    event = claims.ClaimPaid(
        claim_id=uuid.uuid4(),
        number="CLM-2030-000005",
        invoice_id=uuid.uuid4(),
        patient_id=uuid.UUID(str(patient_id)),
        paid_amount=Decimal("1200.00"),
        remittance_id="RA-2030-0001",
        paid_at=_when(14),
    )
    return {**event.to_payload(), **overrides}


async def deliver_again(env: Any, event: Envelope) -> None:
    """What a transport does when it redelivers: the same envelope to notifications once more."""
    async with env.uow() as uow:
        uow.session.add(
            tables_of("notifications").deliveries(
                consumer="notifications",
                event_id=event.id,
                event_type=event.type,
                envelope=event.to_dict(),
                attempts=0,
                next_attempt_at=env.clock.now(),
            )
        )
