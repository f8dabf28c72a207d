"""The pure rules behind credit notes: what is open to credit, the balance, and the status payments and credit
give together (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caremesh.billing import domain
from caremesh.billing.domain import InvoiceStatus

D = Decimal


@pytest.mark.parametrize(
    ("paid", "patient", "credited", "status"),
    [
        (D("0.00"), D("168.00"), D("0.00"), InvoiceStatus.ISSUED),
        (D("0.00"), D("168.00"), D("100.00"), InvoiceStatus.ISSUED),  # credit alone pays nothing
        (D("0.00"), D("168.00"), D("168.00"), InvoiceStatus.PAID),  # ...but it can settle the invoice
        (D("100.00"), D("168.00"), D("0.00"), InvoiceStatus.PARTIALLY_PAID),
        (D("100.00"), D("168.00"), D("67.99"), InvoiceStatus.PARTIALLY_PAID),
        (D("100.00"), D("168.00"), D("68.00"), InvoiceStatus.PAID),
        (D("0.00"), D("0.00"), D("0.00"), InvoiceStatus.PAID),  # nothing to pay
    ],
)
def test_the_status_follows_payments_and_credit(paid, patient, credited, status):
    assert domain.payment_status(paid, patient, credited) is status


def test_the_balance_is_the_share_less_credit_and_payments():
    assert domain.balance_due(D("168.00"), D("18.00"), D("100.00")) == D("50.00")


def test_what_may_be_credited_leaves_out_payments_in_flight():
    assert domain.creditable(D("168.00"), D("18.00"), D("100.00"), D("30.00")) == D("20.00")
    assert domain.creditable(D("168.00"), D("0.00"), D("168.00"), D("0.00")) == D("0.00")  # paid: refund first
