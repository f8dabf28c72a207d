"""Pharmacy's pure rules: lock order, what may be dispensed, when an order is fully dispensed."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.pharmacy.domain import (
    ReservationStatus,
    available,
    dispense_refusal,
    fully_dispensed,
    lock_order,
)

R = ReservationStatus
statuses = st.lists(st.sampled_from(list(ReservationStatus)), max_size=8)


def test_available_is_stock_less_reserved():
    assert available(10, 4) == 6
    assert available(4, 4) == 0


@given(st.lists(st.uuids(), max_size=8), st.randoms())
def test_every_transaction_locks_the_same_medications_in_the_same_order(ids, rnd):
    shuffled = [*ids, *ids[:2]]  # an order may name a medication twice
    rnd.shuffle(shuffled)

    locked = lock_order(shuffled)

    assert locked == lock_order(ids)
    assert set(locked) == set(ids)
    assert len(locked) == len(set(ids))
    # PostgreSQL's ORDER BY id (the order the rows are locked in) compares uuids bytewise.
    assert all(a.bytes < b.bytes for a, b in itertools.pairwise(locked))


def test_only_a_reserved_reservation_of_a_confirmed_order_is_dispensed():
    assert dispense_refusal(R.RESERVED, order_confirmed=True) is None
    assert "not confirmed" in dispense_refusal(R.RESERVED, order_confirmed=False)


@pytest.mark.parametrize(("status", "word"), [(R.DISPENSED, "already"), (R.RELEASED, "released"), (R.FAILED, "failed")])
@pytest.mark.parametrize("confirmed", [True, False])
def test_a_reservation_no_longer_reserved_is_never_dispensed(status, word, confirmed):
    assert word in dispense_refusal(status, order_confirmed=confirmed)


@pytest.mark.parametrize(
    ("order", "done"),
    [
        ([R.DISPENSED], True),
        ([R.DISPENSED, R.DISPENSED], True),
        ([R.DISPENSED, R.RESERVED], False),
        ([R.DISPENSED, R.RELEASED], True),  # given back before the rest was dispensed: it does not count
        ([R.RELEASED, R.FAILED], False),  # nothing was ever dispensed
        ([], False),
    ],
)
def test_fully_dispensed_examples(order, done):
    assert fully_dispensed(order) is done


@given(statuses)
def test_fully_dispensed_means_something_dispensed_and_nothing_still_reserved(order):
    assert fully_dispensed(order) == (R.DISPENSED in order and R.RESERVED not in order)


@given(statuses, st.sampled_from([R.RELEASED, R.FAILED]))
def test_reservations_given_back_never_change_the_answer(order, gone):
    assert fully_dispensed([*order, gone]) == fully_dispensed(order)
