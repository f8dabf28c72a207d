"""The pure insurance rules: which coverage applies, how an amount splits, age bands."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.insurance.domain import (
    AgeBand,
    BenefitTerms,
    CoverageFacts,
    Reason,
    Usage,
    age_on,
    band_for,
    overlaps,
    pick_coverage,
    split,
)

ON = date(2030, 1, 7)


def coverage(status="active", valid_from=date(2030, 1, 1), valid_to=None, scheme="active") -> CoverageFacts:
    return CoverageFacts(uuid.uuid4(), status, valid_from, valid_to, scheme)


def terms(percent="80", copay="0", deductible="0", limit=None, preauth=False) -> BenefitTerms:
    return BenefitTerms(
        Decimal(percent), Decimal(copay), Decimal(deductible), None if limit is None else Decimal(limit), preauth
    )


# --- which coverage applies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "reasons"),
    [
        ([], (Reason.NO_COVERAGE,)),
        ([coverage(status="inactive")], (Reason.COVERAGE_INACTIVE,)),
        ([coverage(valid_from=ON + timedelta(days=1))], (Reason.COVERAGE_NOT_STARTED,)),
        ([coverage(valid_to=ON - timedelta(days=1))], (Reason.COVERAGE_EXPIRED,)),
        ([coverage(scheme="suspended")], (Reason.SCHEME_SUSPENDED,)),
        (
            [coverage(scheme="suspended"), coverage(status="inactive", valid_to=date(2029, 12, 31))],
            (Reason.COVERAGE_INACTIVE, Reason.COVERAGE_EXPIRED, Reason.SCHEME_SUSPENDED),
        ),
    ],
)
def test_no_coverage_applies_and_every_reason_why(facts, reasons):
    assert pick_coverage(facts, ON) == (None, reasons)


def test_the_first_and_last_day_count_and_the_latest_start_wins():
    first_day = coverage(valid_from=ON)
    last_day = coverage(valid_from=date(2029, 1, 1), valid_to=ON)
    assert pick_coverage([last_day, first_day], ON) == (first_day, ())
    assert pick_coverage([last_day, coverage(status="inactive", valid_from=ON)], ON) == (last_day, ())


# --- the split ---------------------------------------------------------------------------------------


def test_the_rules_in_order():
    result = split(
        Decimal("1000"),
        terms("80", copay="50", deductible="200", limit="5000"),
        Usage(Decimal("150")),
        preauthorised=False,
    )
    assert (result.deductible_applied, result.copay_applied, result.payer_amount, result.patient_amount) == (
        Decimal("50.00"),
        Decimal("50.00"),
        Decimal("720.00"),
        Decimal("280.00"),
    )
    assert result.remaining_annual_limit == Decimal("5000.00")


def test_half_up_to_the_cent():
    # 0.05 x 50 % = 0.025 -> 0.03
    assert split(Decimal("0.05"), terms("50"), Usage(), preauthorised=False).payer_amount == Decimal("0.03")


def test_not_eligible_cases_leave_it_all_to_the_patient():
    amount = Decimal("100.00")
    assert split(amount, None, Usage(), preauthorised=False).reasons == (Reason.NOT_COVERED,)
    assert split(amount, terms(preauth=True), Usage(), preauthorised=False).reasons == (Reason.PREAUTH_REQUIRED,)
    assert split(amount, terms(preauth=True), Usage(), preauthorised=True).eligible
    exhausted = split(amount, terms(limit="10"), Usage(limit_used=Decimal("10")), preauthorised=False)
    assert (exhausted.eligible, exhausted.payer_amount, exhausted.patient_amount, exhausted.reasons) == (
        False,
        Decimal("0.00"),
        amount,
        (Reason.ANNUAL_LIMIT_EXHAUSTED,),
    )


money = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)
percent = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@given(
    amount=money,
    pct=percent,
    copay=money,
    deductible=money,
    limit=st.none() | money,
    met=money,
    used=money,
    requires=st.booleans(),
    preauthorised=st.booleans(),
)
def test_the_split_adds_up_and_respects_the_limit(
    amount, pct, copay, deductible, limit, met, used, requires, preauthorised
):
    met = min(met, deductible)
    used = used if limit is None else min(used, limit)
    benefit = BenefitTerms(pct, copay, deductible, limit, requires)

    result = split(amount, benefit, Usage(met, used), preauthorised=preauthorised)

    assert result.payer_amount + result.patient_amount == amount
    shares = (result.payer_amount, result.patient_amount, result.deductible_applied, result.copay_applied)
    assert all(x >= 0 and x == x.quantize(Decimal("0.01")) for x in shares)
    assert result.deductible_applied <= deductible - met
    assert result.deductible_applied + result.copay_applied <= amount
    if limit is not None:
        assert result.payer_amount <= limit - used
        assert result.remaining_annual_limit == limit - used
    assert result.payer_amount <= amount - result.deductible_applied - result.copay_applied
    assert result.eligible == (not result.reasons)
    if not result.eligible:
        assert result.payer_amount == 0


# --- age bands ----------------------------------------------------------------------------------------


def test_age_counts_the_birthday_itself():
    assert age_on(date(2000, 1, 7), ON) == 30
    assert age_on(date(2000, 1, 8), ON) == 29
    assert age_on(date(2000, 2, 29), date(2030, 2, 28)) == 29
    assert age_on(date(2000, 2, 29), date(2030, 3, 1)) == 30


@given(st.integers(0, 150), st.integers(0, 150), st.integers(0, 150), st.integers(0, 150))
def test_bands_overlap_exactly_when_an_age_is_in_both(a, b, c, d):
    first, second = AgeBand(min(a, b), max(a, b)), AgeBand(min(c, d), max(c, d))
    shared = any(band_for([first], age) and band_for([second], age) for age in range(151))
    assert overlaps(first, second) == shared == overlaps(second, first)


def test_band_edges_are_inclusive():
    bands = [AgeBand(0, 17), AgeBand(18, 40)]
    assert [band_for(bands, age) for age in (0, 17, 18, 40, 41)] == [bands[0], bands[0], bands[1], bands[1], None]


@given(st.integers(0, 150), st.integers(0, 150), st.booleans(), st.integers(0, 150), st.integers(0, 150), st.booleans())
def test_open_bands_overlap_exactly_when_an_age_is_in_both(a, b, a_open, c, d, c_open):
    first = AgeBand(min(a, b), None if a_open else max(a, b))
    second = AgeBand(min(c, d), None if c_open else max(c, d))
    shared = any(band_for([first], age) and band_for([second], age) for age in range(200))
    assert overlaps(first, second) == shared == overlaps(second, first)


def test_an_open_band_takes_every_age_from_its_minimum():
    bands = [AgeBand(0, 59), AgeBand(60, None)]
    assert [band_for(bands, age) for age in (59, 60, 99, 150)] == [bands[0], bands[1], bands[1], bands[1]]
