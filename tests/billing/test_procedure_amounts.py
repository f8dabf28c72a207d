"""Pure rules: an invoice re-priced as procedures join it keeps API.md's order of amounts at its own discount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caremesh.billing import domain
from caremesh.billing.models import Invoice
from caremesh.billing.procedures import has_payments


def test_amounts_at_a_known_discount_are_the_amounts_of_the_prior_visits_that_gave_it():
    for prior in range(0, 14):
        by_visits = domain.invoice_amounts(
            Decimal("2400.00"), prior_visits=prior, tax_rate=Decimal("0.12"), coverage_percent=Decimal(90)
        )
        at = domain.amounts_at(
            Decimal("2400.00"), by_visits.discount_percent, tax_rate=Decimal("0.12"), coverage_percent=Decimal(90)
        )
        assert at == by_visits


def test_amounts_at_a_discount_round_each_step_half_up():
    # 1950.00 at 3 %: 58.50 off, tax 12 % of 1891.50 = 226.98, total 2118.48, insurer 75 % 1588.86, patient 529.62.
    amounts = domain.amounts_at(Decimal("1950.00"), 3, tax_rate=Decimal("0.12"), coverage_percent=Decimal(75))
    figures = (amounts.discount_amount, amounts.tax_amount, amounts.total, amounts.insurance_amount)
    assert figures == (Decimal("58.50"), Decimal("226.98"), Decimal("2118.48"), Decimal("1588.86"))
    assert amounts.patient_amount == Decimal("529.62")


@pytest.mark.parametrize("percent", [-1, 101])
def test_a_discount_outside_0_to_100_percent_is_refused(percent):
    with pytest.raises(ValueError, match="discount"):
        domain.amounts_at(Decimal(100), percent, tax_rate=Decimal("0.12"), coverage_percent=Decimal(0))


@pytest.mark.parametrize(
    ("moved", "status", "expected"),
    [
        ({}, "issued", False),
        ({"amount_paid": Decimal("1.00")}, "partially_paid", True),
        ({"amount_pending": Decimal("1.00")}, "issued", True),
        ({"insurance_paid": Decimal("1.00")}, "issued", True),
        ({"credited_amount": Decimal("1.00")}, "issued", True),  # a credit note corrects it from then on
        ({}, "paid", True),  # nothing left for the patient to pay: settled
    ],
)
def test_an_invoice_has_payments_once_money_moved_or_it_is_settled(moved, status, expected):
    zero = Decimal("0.00")
    money = {"amount_paid": zero, "amount_pending": zero, "insurance_paid": zero, "credited_amount": zero, **moved}
    invoice = Invoice(status=status, **money)
    assert has_payments(invoice) is expected
