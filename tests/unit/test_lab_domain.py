"""Pure lab rules: LOINC check digits, when results may be recorded."""

from __future__ import annotations

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
