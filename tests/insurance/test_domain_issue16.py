"""Pure rules of issue 16, in milliseconds: which dated terms are in force, a period's first day, a commission."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from caremesh.insurance import domain
from caremesh.insurance.domain import BenefitTerms, DatedTerms


def _terms(percent: str) -> BenefitTerms:
    return BenefitTerms(Decimal(percent), Decimal("0.00"), Decimal("0.00"), None, requires_preauth=False)


HISTORY = [
    DatedTerms(date(2030, 6, 1), _terms("60.00")),
    DatedTerms(date(2030, 1, 7), _terms("80.00")),
    DatedTerms(date(2030, 9, 1), _terms("40.00")),
]


@pytest.mark.parametrize(
    ("on", "percent"),
    [
        (date(2029, 12, 31), "80.00"),  # before the first terms: the first terms
        (date(2030, 1, 7), "80.00"),
        (date(2030, 5, 31), "80.00"),
        (date(2030, 6, 1), "60.00"),  # from its date on, inclusive
        (date(2030, 8, 31), "60.00"),
        (date(2031, 1, 1), "40.00"),
    ],
)
def test_the_terms_in_force_are_the_latest_on_or_before_the_date(on, percent):
    picked = domain.terms_on(HISTORY, on)
    assert picked is not None
    assert picked.terms.coverage_percent == Decimal(percent)


def test_no_history_no_terms():
    assert domain.terms_on([], date(2030, 1, 1)) is None


def test_a_period_starts_on_its_first_day():
    assert domain.period_start("2030-02") == date(2030, 2, 1)
    for bad in ("2030-2", "2030-13", "203-01", "2030/01"):
        with pytest.raises(ValueError):
            domain.period_start(bad)


@pytest.mark.parametrize(
    ("total", "percent", "expected"),
    [("101.00", "2.50", "2.53"), ("300.00", "10.00", "30.00"), ("0.00", "50.00", "0.00"), ("99.99", "100.00", "99.99")],
)
def test_a_commission_is_the_percent_of_the_total_half_up(total, percent, expected):
    assert domain.commission(Decimal(total), Decimal(percent)) == Decimal(expected)
