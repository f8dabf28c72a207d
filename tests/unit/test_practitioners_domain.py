from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.practitioners.domain import (
    DEFAULT_WORKING_HOURS,
    WorkingWindow,
    is_valid_npi,
    luhn_valid,
    working_hours_problem,
)
from tests.builders.practitioners import npi_check_digit

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1003000126"])
def test_known_valid_npis_pass(npi):
    assert is_valid_npi(npi)


@pytest.mark.parametrize(
    "npi",
    [
        "1234567890",  # wrong check digit
        "123456789",  # nine digits
        "12345678931",  # eleven digits
        "",
        "12345 7893",
        "abcdefghij",
        "１２３４５６７８９３",  # full-width digits are digits to str.isdigit, not to an NPI
        "٠١٢٣٤٥٦٧٨٩",
    ],
)
def test_invalid_npis_fail(npi):
    assert not is_valid_npi(npi)


def test_luhn_uses_the_80840_prefix():
    assert luhn_valid("808401234567893")
    assert not luhn_valid("1234567893")  # the same digits without the prefix do not check


@given(nine_digits)
def test_exactly_one_check_digit_completes_a_base(base):
    valid = [d for d in "0123456789" if is_valid_npi(base + d)]
    assert valid == [npi_check_digit(base)]


@given(nine_digits, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_error_is_caught(base, position, delta):
    npi = base + npi_check_digit(base)
    wrong = npi[:position] + str((int(npi[position]) + delta) % 10) + npi[position + 1 :]
    assert not is_valid_npi(wrong)


def test_default_working_hours_are_weekdays_eight_to_six():
    assert [(w.weekday, w.start, w.end) for w in DEFAULT_WORKING_HOURS] == [
        (day, time(8), time(18)) for day in range(5)
    ]
    assert working_hours_problem(DEFAULT_WORKING_HOURS) is None


def w(day: int, start: str, end: str) -> WorkingWindow:
    return WorkingWindow(day, time.fromisoformat(start), time.fromisoformat(end))


@pytest.mark.parametrize(
    "windows",
    [
        [],
        [w(0, "08:00", "12:00"), w(0, "12:00", "16:00")],  # back to back
        [w(0, "13:00", "17:00"), w(0, "08:00", "12:00")],  # any order
        [w(0, "08:00", "12:00"), w(1, "08:00", "12:00")],  # same hours, other day
        [w(6, "00:00", "23:59")],
    ],
)
def test_acceptable_working_hours(windows):
    assert working_hours_problem(windows) is None


@pytest.mark.parametrize(
    ("windows", "says"),
    [
        ([w(0, "12:00", "12:00")], "before end"),
        ([w(0, "18:00", "08:00")], "before end"),
        ([w(0, "08:00", "12:00"), w(0, "11:59", "14:00")], "overlaps"),
        ([w(2, "08:00", "18:00"), w(2, "09:00", "10:00")], "overlaps"),
        ([w(7, "08:00", "12:00")], "weekday"),
        ([w(-1, "08:00", "12:00")], "weekday"),
    ],
)
def test_unacceptable_working_hours(windows, says):
    assert says in working_hours_problem(windows)
