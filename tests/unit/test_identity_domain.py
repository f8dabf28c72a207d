"""Pure rules of identity: the password policy, the lockout window and token digests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from caremesh.identity.domain import (
    COMMON_PASSWORDS,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    FailureOutcome,
    LockoutPolicy,
    new_secret_token,
    password_problems,
    record_failure,
    token_digest,
)

EMAIL = "asha.rao.reception@example.org"
POLICY = LockoutPolicy(threshold=5, window=timedelta(minutes=15), duration=timedelta(minutes=15))
T = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)


# --- password policy ------------------------------------------------------------------------------


def test_a_long_unusual_password_is_accepted():
    assert password_problems("violet-harbour-lantern-7", EMAIL) == []


def test_the_minimum_length_is_12_inclusive():
    assert password_problems("abcdefghij1!", EMAIL) == []
    assert password_problems("abcdefghi1!", EMAIL) == ["must be at least 12 characters"]


def test_the_maximum_length_is_128_inclusive():
    assert password_problems("ab1-" * 32, EMAIL) == []
    assert any("at most" in p for p in password_problems("ab1-" * 32 + "x", EMAIL))


@pytest.mark.parametrize(
    "password",
    [EMAIL, EMAIL.upper(), "asha.rao.reception", "ASHA.RAO.RECEPTION"],
)
def test_the_email_or_its_local_part_is_refused(password):
    assert "must not be the email address" in password_problems(password, EMAIL)


def test_the_email_is_compared_after_trimming():
    assert "must not be the email address" in password_problems(EMAIL, f"  {EMAIL.upper()} ")


def test_without_an_email_only_the_other_rules_apply():
    assert password_problems(EMAIL, None) == []


@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "Qwerty123456", "correcthorsebatterystaple"])
def test_common_passwords_are_refused_in_any_case(password):
    assert "is too common" in password_problems(password, EMAIL)


@pytest.mark.parametrize("password", ["aaaaaaaaaaaaaaaa", "abababababababab", "............"])
def test_passwords_of_one_or_two_distinct_characters_are_refused(password):
    assert "is too common" in password_problems(password, EMAIL)


def test_every_common_password_passes_the_length_rule_so_the_list_matters():
    assert all(len(p) >= MIN_PASSWORD_LENGTH for p in COMMON_PASSWORDS)
    assert all(p == p.lower() for p in COMMON_PASSWORDS)


def test_several_problems_are_reported_together():
    assert len(password_problems("aaaa", "aaaa@example.org")) == 3


@given(st.text(max_size=MIN_PASSWORD_LENGTH - 1))
def test_anything_shorter_than_12_is_refused(password):
    assert "must be at least 12 characters" in password_problems(password, EMAIL)


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=MIN_PASSWORD_LENGTH, max_size=MAX_PASSWORD_LENGTH))
def test_long_enough_varied_passwords_other_than_email_and_common_ones_are_accepted(password):
    assume(len(set(password)) > 2)
    assume(password.lower() not in COMMON_PASSWORDS)
    assume(password.lower() not in {EMAIL, EMAIL.split("@")[0]})

    assert password_problems(password, EMAIL) == []


# --- lockout window -------------------------------------------------------------------------------


def fail_at(*minutes: float, policy: LockoutPolicy = POLICY) -> FailureOutcome:
    """Feed failures at these minutes after T through record_failure; the outcome of the last."""
    recent: list[datetime] = []
    outcome = None
    for m in minutes:
        outcome = record_failure(policy, T + timedelta(minutes=m), recent)
        recent = outcome.recent_failures
    assert outcome is not None
    return outcome


def test_the_first_failure_is_remembered():
    outcome = record_failure(POLICY, T, [])

    assert outcome == FailureOutcome([T], None)


def test_failures_within_the_window_accumulate():
    outcome = fail_at(0, 1, 2, 3)

    assert outcome.locked_until is None
    assert outcome.recent_failures == [T + timedelta(minutes=m) for m in (0, 1, 2, 3)]


def test_the_fifth_failure_locks_for_the_duration_and_starts_afresh():
    outcome = fail_at(0, 1, 2, 3, 4)

    assert outcome.locked_until == T + timedelta(minutes=4) + POLICY.duration
    assert outcome.recent_failures == []


def test_a_failure_just_inside_the_window_still_counts():
    assert fail_at(0, 1, 2, 3, 14.99).locked_until is not None


def test_a_failure_a_full_window_old_no_longer_counts():
    outcome = fail_at(0, 1, 2, 3, 15)

    assert outcome.locked_until is None
    assert T not in outcome.recent_failures
    assert len(outcome.recent_failures) == 4


def test_old_failures_are_forgotten():
    outcome = record_failure(POLICY, T + timedelta(hours=1), [T, T + timedelta(minutes=1)])

    assert outcome == FailureOutcome([T + timedelta(hours=1)], None)


def test_the_remembered_failures_stay_bounded():
    assert len(record_failure(POLICY, T, [T] * 50).recent_failures) <= POLICY.threshold


def test_failures_spread_over_more_than_the_window_do_not_lock():
    assert fail_at(0, 4, 8, 12, 16, 20, 24, 28).locked_until is None


def test_the_window_slides_past_an_earlier_failure():
    """Five failures within 7 minutes lock, whenever the first failure of the series happened."""
    assert fail_at(0, 10, 11, 12, 16, 17).locked_until == T + timedelta(minutes=17) + POLICY.duration


def test_a_threshold_of_one_locks_at_once():
    policy = LockoutPolicy(threshold=1, window=timedelta(minutes=1), duration=timedelta(minutes=5))

    assert record_failure(policy, T, []).locked_until == T + timedelta(minutes=5)


@given(st.lists(st.floats(min_value=0, max_value=14.99), min_size=5, max_size=5))
def test_any_five_failures_within_15_minutes_lock(offsets):
    assert fail_at(*sorted(offsets)).locked_until is not None


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=30))
def test_no_lock_while_every_15_minutes_hold_at_most_four_failures(gaps):
    """Failures at least 4 minutes apart: any 15 minutes hold at most four of them."""
    minutes, now = [], 0
    for gap in gaps:
        now += 4 + gap
        minutes.append(now)

    assert fail_at(*minutes).locked_until is None


# --- token digests --------------------------------------------------------------------------------


def test_token_digest_is_the_sha256_hex_of_the_token():
    assert token_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert token_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@given(st.text(), st.text())
def test_token_digests_are_deterministic_and_distinguish_tokens(a, b):
    assert token_digest(a) == token_digest(a)
    assert len(token_digest(a)) == 64
    assert (token_digest(a) == token_digest(b)) == (a == b)


def test_secret_tokens_are_long_url_safe_and_fresh():
    tokens = {new_secret_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(
        len(t) >= 43 and set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for t in tokens
    )
