"""Pure capacity rules (lab's and imaging's): the 14-day booking window, free days, when a booking may be finished."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.platform.capacity import rules
from caremesh.platform.capacity.rules import Refusal


def test_the_window_is_today_and_the_next_13_days():
    window = rules.booking_window(date(2030, 12, 25))
    assert len(window) == 14
    assert (window[0], window[-1]) == (date(2030, 12, 25), date(2031, 1, 7))
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(window))


@given(
    st.lists(st.integers(min_value=0, max_value=6), min_size=14, max_size=14),
    st.integers(min_value=0, max_value=5),
)
def test_free_days_are_those_below_capacity_in_window_order(counts, capacity):
    window = rules.booking_window(date(2030, 1, 7))
    booked = dict(zip(window, counts, strict=True))
    free = rules.free_days(window, booked, capacity)
    assert free == [d for d, n in zip(window, counts, strict=True) if n < capacity]
    assert free == sorted(free)


def test_a_day_never_booked_is_free_unless_capacity_is_zero():
    window = rules.booking_window(date(2030, 1, 7), days=2)
    assert rules.free_days(window, {}, 1) == window
    assert rules.free_days(window, {}, 0) == []
    # Capacity lowered below the bookings: the day stays full.
    assert rules.free_days(window, {window[0]: 5}, 2) == [window[1]]


@pytest.mark.parametrize(
    ("status", "confirmed", "expected"),
    [
        ("scheduled", True, None),
        ("scheduled", False, Refusal.NOT_CONFIRMED),
        ("reported", True, Refusal.ALREADY_DONE),
        ("cancelled", True, Refusal.CANCELLED),
        ("cancelled", False, Refusal.CANCELLED),
    ],
)
def test_only_a_scheduled_booking_of_a_confirmed_order_may_be_finished(status, confirmed, expected):
    assert rules.refusal(status, done="reported", order_confirmed=confirmed) is expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["reported"], True),
        (["reported", "scheduled"], False),
        (["reported", "cancelled"], True),
        (["cancelled"], False),
        ([], False),
    ],
)
def test_an_order_is_all_done_when_every_standing_booking_is(statuses, expected):
    assert rules.all_done(statuses, done="reported") is expected
