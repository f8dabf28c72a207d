"""Pure lab rules: LOINC check digits, the 14-day booking window, free days, when results may be recorded."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.lab import domain
from caremesh.lab.domain import LabOrderStatus as S

SCHEDULED, RESULTED, CANCELLED = S.SCHEDULED, S.RESULTED, S.CANCELLED


@pytest.mark.parametrize("code", ["718-7", "2345-7", "57698-3", "4548-4", "2093-3", "12345-5", "2160-0"])
def test_real_loinc_codes_are_valid(code):
    assert domain.is_valid_loinc(code)


@pytest.mark.parametrize(
    "code",
    ["718-8", "2345-1", "2345", "2345-", "-7", "02345-7", "2345_7", "2345-77", "12345678-2", "٢٣٤٥-٧", " 2345-7", ""],
)
def test_malformed_or_wrong_check_digit_codes_are_not(code):
    assert not domain.is_valid_loinc(code)


def test_the_check_digit_follows_the_published_example():
    # LOINC's own worked example: 12345 -> 5.
    assert domain.mod10_check_digit("12345") == 5


@given(st.integers(min_value=1, max_value=9_999_999))
def test_every_number_has_exactly_one_valid_check_digit(number):
    valid = [d for d in range(10) if domain.is_valid_loinc(f"{number}-{d}")]
    assert valid == [domain.mod10_check_digit(str(number))]


@given(st.integers(min_value=1, max_value=999_999), st.integers(min_value=0, max_value=5))
def test_a_single_digit_typo_is_caught(number, where):
    digits = str(number)
    where %= len(digits)
    good = f"{digits}-{domain.mod10_check_digit(digits)}"
    for replacement in "0123456789":
        typo = digits[:where] + replacement + digits[where + 1 :]
        if typo != digits and not typo.startswith("0"):
            assert not domain.is_valid_loinc(f"{typo}-{good[-1]}")


def test_the_window_is_today_and_the_next_13_days():
    window = domain.booking_window(date(2030, 12, 25))
    assert len(window) == 14
    assert (window[0], window[-1]) == (date(2030, 12, 25), date(2031, 1, 7))
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(window))


@given(
    st.lists(st.integers(min_value=0, max_value=6), min_size=14, max_size=14),
    st.integers(min_value=0, max_value=5),
)
def test_free_days_are_those_below_capacity_in_window_order(counts, capacity):
    window = domain.booking_window(date(2030, 1, 7))
    booked = dict(zip(window, counts, strict=True))
    free = domain.free_days(window, booked, capacity)
    assert free == [d for d, n in zip(window, counts, strict=True) if n < capacity]
    assert free == sorted(free)


def test_a_day_never_booked_is_free_unless_capacity_is_zero():
    window = domain.booking_window(date(2030, 1, 7), days=2)
    assert domain.free_days(window, {}, 1) == window
    assert domain.free_days(window, {}, 0) == []
    # Capacity lowered below the bookings: the day stays full.
    assert domain.free_days(window, {window[0]: 5}, 2) == [window[1]]


def test_only_a_scheduled_lab_order_of_a_confirmed_order_may_be_resulted():
    assert domain.not_resultable_reason(SCHEDULED, order_confirmed=True) is None
    assert "not confirmed" in domain.not_resultable_reason(SCHEDULED, order_confirmed=False)
    assert "already" in domain.not_resultable_reason(RESULTED, order_confirmed=True)
    assert "cancelled" in domain.not_resultable_reason(CANCELLED, order_confirmed=True)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([RESULTED], True),
        ([RESULTED, SCHEDULED], False),
        ([RESULTED, CANCELLED], True),
        ([CANCELLED], False),
        ([], False),
    ],
)
def test_an_order_is_fully_resulted_when_every_standing_lab_order_is(statuses, expected):
    assert domain.fully_resulted(statuses) is expected
