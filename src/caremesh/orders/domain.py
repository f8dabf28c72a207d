"""The order's state machine and the saga's vocabulary, as pure rules.

pending ──► confirmed ──► completed
   │            │
   ├──► failed  └──► cancelled
   └──► cancelled
"""

from __future__ import annotations

from enum import StrEnum


class OrderType(StrEnum):
    PRESCRIPTION = "prescription"
    LAB = "lab"
    IMAGING = "imaging"


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class StepKind(StrEnum):
    STEP = "step"
    COMPENSATION = "compensation"


class Step(StrEnum):
    """What `GET /orders/{id}/events` lists, in the order it happened."""

    PLACED = "placed"
    STOCK_RESERVED = "stock_reserved"
    STOCK_RESERVATION_FAILED = "stock_reservation_failed"
    LAB_SCHEDULED = "lab_scheduled"
    LAB_SCHEDULING_FAILED = "lab_scheduling_failed"
    IMAGING_SCHEDULED = "imaging_scheduled"
    IMAGING_SCHEDULING_FAILED = "imaging_scheduling_failed"
    INVOICED = "invoiced"
    INVOICING_FAILED = "invoicing_failed"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    DISPENSED = "dispensed"
    RESULTED = "resulted"
    REPORTED = "reported"
    COMPLETED = "completed"
    # Compensations: what a failure or a cancellation gave back.
    RESERVATIONS_RELEASED = "reservations_released"
    LAB_ORDERS_CANCELLED = "lab_orders_cancelled"
    IMAGING_ORDERS_CANCELLED = "imaging_orders_cancelled"
    INVOICE_VOIDED = "invoice_voided"


COMPENSATIONS = frozenset(
    {Step.RESERVATIONS_RELEASED, Step.LAB_ORDERS_CANCELLED, Step.IMAGING_ORDERS_CANCELLED, Step.INVOICE_VOIDED}
)
# What a compensation answer gives back: the step that took it, which is always recorded before it.
GIVES_BACK = {
    Step.RESERVATIONS_RELEASED: Step.STOCK_RESERVED,
    Step.LAB_ORDERS_CANCELLED: Step.LAB_SCHEDULED,
    Step.IMAGING_ORDERS_CANCELLED: Step.IMAGING_SCHEDULED,
}
# Work done on an order's items: once any happened, the order can no longer be cancelled.
ITEM_WORK = frozenset({Step.DISPENSED, Step.RESULTED, Step.REPORTED})


class FailureReason(StrEnum):
    """Why orders itself failed an order. An order whose first step was refused fails with the refusal's own
    reason, which is the participant's vocabulary (pharmacy's `FailureReason`, lab's and imaging's
    `SchedulingFailure`, exported by their contracts)."""

    BILLING_FAILED = "BILLING_FAILED"
    SAGA_TIMEOUT = "SAGA_TIMEOUT"


def step_kind(step: Step) -> StepKind:
    return StepKind.COMPENSATION if step in COMPENSATIONS else StepKind.STEP


class CancelRefusal(StrEnum):
    CLOSED = "closed"
    WORK_STARTED = "work_started"


def cancel_refusal(status: OrderStatus, *, work_started: bool) -> CancelRefusal | None:
    """Pending and confirmed orders may be cancelled, unless an item was already dispensed, resulted or reported."""
    if status not in (OrderStatus.PENDING, OrderStatus.CONFIRMED):
        return CancelRefusal.CLOSED
    if work_started:
        return CancelRefusal.WORK_STARTED
    return None


def awaits_first_step(status: OrderStatus) -> bool:
    """Only a pending order moves on when its participant answers; a closed one only records the answer."""
    return status == OrderStatus.PENDING


def completes(status: OrderStatus, *, all_items_done: bool) -> bool:
    """A confirmed order is completed once every item is dispensed, resulted or reported."""
    return status == OrderStatus.CONFIRMED and all_items_done
