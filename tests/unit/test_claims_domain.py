"""The pure claim rules: the state machine, spreading money over lines, reason codes, the clinic's identifiers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from caremesh.claims.domain import (
    Action,
    Adjustment,
    ClaimStatus,
    LineOutcome,
    adjustments,
    allocate,
    decided_status,
    may,
    reason_codes,
    rejection_reason,
    window_expired,
)
from caremesh.claims.x12_documents import control_number
from caremesh.platform.settings import ClinicSettings, npi_check_digit

D = Decimal
ZERO = D("0.00")
cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: (D(c) / 100).quantize(D("0.01")))


# --- the state machine ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.SUBMITTED, {"draft"}),
        (Action.ADJUDICATED, {"submitted"}),
        (Action.APPROVED, {"submitted"}),
        (Action.REJECTED, {"submitted"}),
        (Action.DISPUTE_OVERTURNED, {"rejected", "partially_approved"}),
        (Action.PAID, {"approved", "partially_approved"}),
    ],
)
def test_each_action_is_allowed_from_its_statuses_only(action, allowed):
    assert {s.value for s in ClaimStatus if may(action, s)} == allowed


@pytest.mark.parametrize(
    ("approved", "claimed", "status"),
    [
        ("100.00", "100.00", "approved"),
        ("99.99", "100.00", "partially_approved"),
        ("0.01", "100.00", "partially_approved"),
        ("0.00", "100.00", "rejected"),
    ],
)
def test_the_decision_follows_the_approved_amount(approved, claimed, status):
    assert decided_status(D(approved), D(claimed)) == status


def test_the_window_counts_whole_days_and_its_last_day_still_counts():
    service = date(2030, 1, 7)
    assert not window_expired(service, date(2030, 2, 6), 30)  # day 30
    assert window_expired(service, date(2030, 2, 7), 30)  # day 31
    assert not window_expired(service, service, 30)


# --- spreading money over lines ---------------------------------------------------------------------------


def test_allocate_splits_in_proportion_and_gives_the_odd_cents_to_the_largest_remainders():
    assert allocate(D("100.00"), [D(1), D(1), D(1)]) == [D("33.34"), D("33.33"), D("33.33")]
    assert allocate(D("1663.20"), [D("1500.00")]) == [D("1663.20")]
    assert allocate(D("10.00"), [D("0"), D("0")]) == [D("5.00"), D("5.00")]
    assert allocate(D("0.00"), [D("3"), D("7")]) == [ZERO, ZERO]
    with pytest.raises(ValueError):
        allocate(D("1.00"), [])


@given(total=cents, weights=st.lists(cents, min_size=1, max_size=12))
def test_allocated_parts_add_up_and_stay_within_a_cent_of_their_share(total, weights):
    parts = allocate(total, weights)
    assert sum(parts, ZERO) == total
    assert all(p >= 0 for p in parts)
    whole = sum(weights, ZERO)
    if whole > 0:
        for part, weight in zip(parts, weights, strict=True):
            assert abs(part - total * weight / whole) < D("0.01")


@given(total=cents, share=st.integers(min_value=0, max_value=100), weights=st.lists(cents, min_size=1, max_size=8))
def test_a_smaller_total_over_the_same_lines_never_exceeds_a_line(total, share, weights):
    charges = allocate(total, weights)
    claimed = allocate((total * share / 100).quantize(D("0.01")), charges)
    assert all(c <= charge for c, charge in zip(claimed, charges, strict=True))


# --- reason codes -----------------------------------------------------------------------------------------


def outcome(payer="0.00", deductible="0.00", copay="0.00", limit="0.00", reasons=(), eligible=True) -> LineOutcome:
    return LineOutcome(eligible, D(payer), D(deductible), D(copay), D(limit), tuple(reasons))


def test_an_eligible_line_explains_what_the_payer_does_not_pay():
    found = adjustments(D("1000.00"), outcome(payer="520.00", deductible="300.00", copay="50.00"))
    assert found == (
        Adjustment("PR", "1", D("300.00")),
        Adjustment("PR", "2", D("130.00")),
        Adjustment("PR", "3", D("50.00")),
    )
    assert reason_codes(found) == ["1", "2", "3"]


def test_a_line_paid_in_full_has_no_adjustments():
    assert adjustments(D("250.00"), outcome(payer="250.00")) == ()


def test_the_annual_limit_is_benefit_maximum():
    found = adjustments(D("1000.00"), outcome(payer="100.00", limit="700.00"))
    assert found == (Adjustment("PR", "2", D("200.00")), Adjustment("PR", "119", D("700.00")))


@pytest.mark.parametrize(
    ("reason", "group", "code"),
    [
        ("NO_COVERAGE", "CO", "31"),
        ("COVERAGE_INACTIVE", "PR", "27"),
        ("COVERAGE_EXPIRED", "PR", "27"),
        ("COVERAGE_NOT_STARTED", "PR", "26"),
        ("SCHEME_SUSPENDED", "PR", "177"),
        ("NOT_COVERED", "PR", "204"),
        ("PREAUTH_REQUIRED", "CO", "197"),
        ("ANNUAL_LIMIT_EXHAUSTED", "PR", "119"),
    ],
)
def test_a_line_not_eligible_carries_the_whole_charge_under_one_code(reason, group, code):
    found = adjustments(D("80.00"), outcome(reasons=[reason], eligible=False))
    assert found == (Adjustment(group, code, D("80.00")),)
    assert rejection_reason([found])[0] == code


@given(
    charge=cents,
    payer_share=st.integers(0, 100),
    deductible_share=st.integers(0, 100),
    copay_share=st.integers(0, 100),
    limit_share=st.integers(0, 100),
)
def test_adjustments_always_add_up_to_charge_less_payer(
    charge, payer_share, deductible_share, copay_share, limit_share
):
    def part(of: Decimal, percent: int) -> Decimal:
        return (of * percent / 100).quantize(D("0.01"))

    payer = part(charge, payer_share)
    rest = charge - payer
    deductible = part(rest, deductible_share)
    copay = part(rest - deductible, copay_share)
    limit = part(rest - deductible - copay, limit_share)
    found = adjustments(charge, outcome(str(payer), str(deductible), str(copay), str(limit)))
    assert sum((a.amount for a in found), ZERO) == charge - payer
    assert all(a.amount > 0 for a in found)


# --- identifiers ------------------------------------------------------------------------------------------


def test_the_interchange_control_number_comes_from_the_claim_number():
    assert control_number("CLM-2026-000042") == 260000042
    assert control_number("CLM-2031-123456") == 310123456


def test_npi_check_digits():
    assert npi_check_digit("123456789") == "3"  # CMS's published example 1234567893
    assert ClinicSettings().npi == "1234567893"


@pytest.mark.parametrize(
    "field",
    [{"npi": "1234567890"}, {"npi": "12345"}, {"tax_id": "12-345678"}, {"postal_code": "62701"}, {"state": "Ill"}],
)
def test_the_clinic_settings_refuse_identifiers_an_837p_cannot_carry(field):
    with pytest.raises(ValidationError):
        ClinicSettings(**field)
