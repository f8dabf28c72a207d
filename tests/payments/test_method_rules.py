"""Pure rules of stored methods and settlements: what looks like a card number, what a UPI handle is, a day's net."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.payments.domain import contains_card_number, is_vpa, luhn_valid, net_of_day


def with_check_digit(body: str) -> str:
    """`body` and the digit that makes it pass Luhn."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@pytest.mark.parametrize("number", ["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117"])
def test_test_card_numbers_pass_luhn(number):
    assert luhn_valid(number)
    assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


@given(st.text("0123456789", min_size=12, max_size=18), st.sampled_from(["", " ", "-"]))
def test_any_luhn_valid_13_to_19_digits_is_a_card_number_however_it_is_split(body, separator):
    number = with_check_digit(body)
    split = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    assert contains_card_number(split)
    assert contains_card_number(f"my card: {split}, thanks")
    assert contains_card_number(split.replace(separator, separator * 2) if separator else split)


@pytest.mark.parametrize(
    "text",
    [
        "tok_visa",
        "4242424242424241",  # fails Luhn
        "424242424242",  # 12 digits
        "42424242424242424242",  # 20 digits: no card number is that long
        "98765 43210",
        "asha.k@okicici",
    ],
)
def test_what_is_not_a_card_number(text):
    assert not contains_card_number(text)


@pytest.mark.parametrize("handle", ["asha.k@okicici", "9876543210@ybl", "a_b-c@paytm", "x1@sbi"])
def test_upi_handles(handle):
    assert is_vpa(handle)


@pytest.mark.parametrize("handle", ["asha", "@ybl", "asha@", "a@ybl", "asha k@ybl", "asha@y-bl", "asha@1bank", "a@@b"])
def test_not_upi_handles(handle):
    assert not is_vpa(handle)


def test_the_net_is_payments_less_refunds_plus_remittances():
    assert net_of_day(Decimal("370.00"), Decimal("30.00"), Decimal("1344.00")) == Decimal("1684.00")
    assert net_of_day(Decimal("0.00"), Decimal("50.00"), Decimal("0.00")) == Decimal("-50.00")
