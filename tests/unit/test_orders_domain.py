from __future__ import annotations

import pytest

from caremesh.orders import domain
from caremesh.orders.domain import CancelRefusal, OrderStatus, Step, StepKind


@pytest.mark.parametrize(
    ("status", "work_started", "refusal"),
    [
        (OrderStatus.PENDING, False, None),
        (OrderStatus.CONFIRMED, False, None),
        (OrderStatus.CONFIRMED, True, CancelRefusal.WORK_STARTED),
        (OrderStatus.FAILED, False, CancelRefusal.CLOSED),
        (OrderStatus.CANCELLED, False, CancelRefusal.CLOSED),
        (OrderStatus.COMPLETED, True, CancelRefusal.CLOSED),
    ],
)
def test_only_open_orders_without_work_done_are_cancelled(status, work_started, refusal):
    assert domain.cancel_refusal(status, work_started=work_started) is refusal


@pytest.mark.parametrize("status", list(OrderStatus))
def test_only_a_pending_order_moves_on_when_its_first_step_answers(status):
    assert domain.awaits_first_step(status) is (status == OrderStatus.PENDING)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_only_a_confirmed_order_with_every_item_done_completes(status):
    assert domain.completes(status, all_items_done=True) is (status == OrderStatus.CONFIRMED)
    assert domain.completes(status, all_items_done=False) is False


def test_compensations_are_told_apart_from_steps():
    compensations = {step for step in Step if domain.step_kind(step) is StepKind.COMPENSATION}
    assert compensations == {
        Step.RESERVATIONS_RELEASED,
        Step.LAB_ORDERS_CANCELLED,
        Step.IMAGING_ORDERS_CANCELLED,
        Step.INVOICE_VOIDED,
    }
