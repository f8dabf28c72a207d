from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.billing.domain import (
    Band,
    ExperienceBands,
    Flat,
    Hourly,
    InvoiceStatus,
    NoBandForExperience,
    age,
    aging_bucket,
    bands_problem,
    billed_hours,
    charge,
    discount_percent,
    invoice_amounts,
    money,
    payment_status,
)

START = datetime(2030, 1, 7, 9, tzinfo=UTC)
CARDIOLOGY = ExperienceBands(
    (Band(0, 19, Decimal("1000.00")), Band(20, 30, Decimal("1500.00")), Band(31, None, Decimal("2000.00")))
)
GENERAL = Hourly(Decimal("200.00"), 10)


def hours_for(minutes: int, round_up_after: int = 10) -> int:
    return billed_hours(START, START + timedelta(minutes=minutes), round_up_after)


# --- the contract's worked example and figures --------------------------------------------


def test_api_worked_example():
    amounts = invoice_amounts(
        Decimal("1500.00"), prior_visits=1, tax_rate=Decimal("0.12"), coverage_percent=Decimal("90")
    )
    assert (amounts.subtotal, amounts.discount_percent, amounts.discount_amount) == (
        Decimal("1500.00"),
        1,
        Decimal("15.00"),
    )
    assert (amounts.tax_amount, amounts.total) == (Decimal("178.20"), Decimal("1663.20"))
    assert (amounts.insurance_amount, amounts.patient_amount) == (Decimal("1496.88"), Decimal("166.32"))


@pytest.mark.parametrize(
    ("years", "amount"),
    [
        (0, "1000.00"),
        (19, "1000.00"),
        (20, "1500.00"),
        (26, "1500.00"),
        (30, "1500.00"),
        (31, "2000.00"),
        (60, "2000.00"),
    ],
)
def test_experience_bands_include_both_ends(years, amount):
    assert charge(CARDIOLOGY, experience_years=years, started_at=START, ended_at=START).amount == Decimal(amount)


def test_a_gap_in_bands_is_no_price():
    gappy = ExperienceBands((Band(0, 10, Decimal("1")),))
    with pytest.raises(NoBandForExperience):
        charge(gappy, experience_years=11, started_at=START, ended_at=START)


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(0, 1), (20, 1), (60, 1), (70, 1), (71, 2), (120, 2), (5 * 60 + 10, 5), (5 * 60 + 11, 6)],
)
def test_billed_hours_round_up_only_after_the_grace_minutes_and_at_least_one(minutes, hours):
    assert hours_for(minutes) == hours


def test_billed_hours_count_seconds_past_the_grace_minutes():
    assert billed_hours(START, START + timedelta(hours=1, minutes=10, seconds=1), 10) == 2


def test_hourly_charge_is_hours_times_rate():
    priced = charge(GENERAL, experience_years=3, started_at=START, ended_at=START + timedelta(minutes=131))
    assert (priced.quantity, priced.unit_price, priced.amount) == (3, Decimal("200.00"), Decimal("600.00"))


def test_flat_charge_ignores_experience_and_time():
    priced = charge(Flat(Decimal("350")), experience_years=40, started_at=START, ended_at=START + timedelta(hours=9))
    assert (priced.quantity, priced.amount) == (1, Decimal("350.00"))


@pytest.mark.parametrize(("prior", "percent"), [(0, 0), (1, 1), (9, 9), (10, 10), (11, 10), (250, 10)])
def test_discount_is_one_percent_per_prior_visit_capped_at_ten(prior, percent):
    assert discount_percent(prior) == percent


def test_each_step_rounds_half_up():
    # 0.05 * 0.12 = 0.006 -> 0.01 tax; 0.06 * 90 % = 0.054 -> 0.05 insurance.
    amounts = invoice_amounts(Decimal("0.05"), prior_visits=0, tax_rate=Decimal("0.12"), coverage_percent=Decimal(90))
    assert (amounts.tax_amount, amounts.total, amounts.insurance_amount, amounts.patient_amount) == (
        Decimal("0.01"),
        Decimal("0.06"),
        Decimal("0.05"),
        Decimal("0.01"),
    )
    # 12.50 * 3 % = 0.375 -> 0.38 discount.
    assert invoice_amounts(
        Decimal("12.50"), prior_visits=3, tax_rate=Decimal(0), coverage_percent=Decimal(0)
    ).discount_amount == Decimal("0.38")


def test_impossible_inputs_are_refused():
    with pytest.raises(ValueError):
        invoice_amounts(Decimal("-1"), prior_visits=0, tax_rate=Decimal("0.12"), coverage_percent=Decimal(0))
    with pytest.raises(ValueError):
        invoice_amounts(Decimal("1"), prior_visits=0, tax_rate=Decimal("0.12"), coverage_percent=Decimal(101))


# --- bands --------------------------------------------------------------------------------


def test_the_default_bands_are_acceptable():
    assert bands_problem(CARDIOLOGY.bands) is None
    assert bands_problem([Band(0, None, Decimal(1))]) is None


@pytest.mark.parametrize(
    ("bands", "fragment"),
    [
        ([], "at least one"),
        ([Band(1, None, Decimal(1))], "start at 0"),
        ([Band(0, 10, Decimal(1)), Band(12, None, Decimal(1))], "without gap or overlap"),
        ([Band(0, 10, Decimal(1)), Band(10, None, Decimal(1))], "without gap or overlap"),
        ([Band(0, 10, Decimal(1)), Band(11, 20, Decimal(1))], "last band must be open-ended"),
        ([Band(0, None, Decimal(1)), Band(11, None, Decimal(1))], "only the last"),
        ([Band(0, 5, Decimal(1)), Band(6, 3, Decimal(1)), Band(4, None, Decimal(1))], "ends before it starts"),
    ],
)
def test_bands_must_be_contiguous_from_zero_and_open_ended(bands, fragment):
    assert fragment in bands_problem(bands)


# --- status and aging -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "owed", "status"),
    [
        ("0.00", "166.32", InvoiceStatus.ISSUED),
        ("0.01", "166.32", InvoiceStatus.PARTIALLY_PAID),
        ("166.31", "166.32", InvoiceStatus.PARTIALLY_PAID),
        ("166.32", "166.32", InvoiceStatus.PAID),
        ("0.00", "0.00", InvoiceStatus.PAID),
    ],
)
def test_payment_status_follows_what_is_paid(paid, owed, status):
    assert payment_status(Decimal(paid), Decimal(owed)) is status


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "90+"), (400, "90+")],
)
def test_aging_buckets_at_their_boundaries(days, bucket):
    as_of = date(2030, 6, 30)
    assert aging_bucket(as_of - timedelta(days=days), as_of) == bucket


def test_age_sums_per_key_and_leaves_out_settled_balances():
    as_of = date(2030, 6, 30)
    aged = age(
        [
            ("a", as_of, Decimal("10.00")),
            ("a", as_of - timedelta(days=45), Decimal("5.50")),
            ("a", as_of, Decimal("0.25")),
            ("b", as_of, Decimal("0.00")),
        ],
        as_of,
    )
    assert set(aged) == {"a"}
    assert aged["a"].buckets == {
        "0-30": Decimal("10.25"),
        "31-60": Decimal("5.50"),
        "61-90": Decimal("0.00"),
        "90+": Decimal("0.00"),
    }
    assert aged["a"].total == Decimal("15.75")


# --- properties of the money rules ---------------------------------------------------------

amounts_in = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2, allow_nan=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False)
coverages = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)
prior_visits = st.integers(min_value=0, max_value=1000)


@given(amounts_in, prior_visits, rates, coverages)
def test_the_parts_add_up_and_nothing_is_negative(subtotal, prior, tax_rate, coverage):
    amounts = invoice_amounts(subtotal, prior_visits=prior, tax_rate=tax_rate, coverage_percent=coverage)
    assert amounts.subtotal - amounts.discount_amount + amounts.tax_amount == amounts.total
    assert amounts.insurance_amount + amounts.patient_amount == amounts.total
    figures = (
        amounts.subtotal,
        amounts.discount_amount,
        amounts.tax_amount,
        amounts.total,
        amounts.insurance_amount,
        amounts.patient_amount,
    )
    assert all(figure >= 0 and figure == money(figure) for figure in figures)


@given(amounts_in, prior_visits, rates, coverages)
def test_the_discount_is_at_most_ten_percent(subtotal, prior, tax_rate, coverage):
    amounts = invoice_amounts(subtotal, prior_visits=prior, tax_rate=tax_rate, coverage_percent=coverage)
    assert 0 <= amounts.discount_percent <= 10
    assert amounts.discount_amount <= money(amounts.subtotal * Decimal("0.10"))
    assert amounts.discount_percent == min(prior, 10)


@given(amounts_in, prior_visits, rates)
def test_without_insurance_the_patient_pays_everything(subtotal, prior, tax_rate):
    amounts = invoice_amounts(subtotal, prior_visits=prior, tax_rate=tax_rate, coverage_percent=Decimal(0))
    assert (amounts.insurance_amount, amounts.patient_amount) == (Decimal("0.00"), amounts.total)


@given(st.integers(min_value=0, max_value=24 * 60 * 3), st.integers(min_value=0, max_value=59))
def test_billed_hours_cover_the_visit_less_the_grace_and_never_an_hour_more(minutes, grace):
    hours = hours_for(minutes, grace)
    assert hours >= 1
    assert hours * 60 + grace >= minutes  # the visit is covered, but for the grace minutes
    assert hours == 1 or (hours - 1) * 60 + grace < minutes  # one hour fewer would not cover it
