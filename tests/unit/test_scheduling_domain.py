from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.scheduling.domain import (
    RESCHEDULABLE,
    Interval,
    Status,
    VisitTimesError,
    can_transition,
    candidate_slots,
    day_windows,
    fits_working_hours,
    free_slots,
    transition_problem,
    visit_times,
)

MONDAY = date(2030, 1, 7)
BASE = datetime(2030, 1, 7, tzinfo=UTC)
WEEKDAYS_8_TO_18 = [(day, time(8), time(18)) for day in range(5)]


def utc(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    return BASE + timedelta(days=days, hours=hour, minutes=minute)


def span(start: datetime, minutes: int) -> Interval:
    return Interval(start, start + timedelta(minutes=minutes))


minutes = st.integers(0, 24 * 60)
intervals = st.builds(lambda start, length: span(BASE + timedelta(minutes=start), length), minutes, st.integers(1, 240))


# --- overlap ---------------------------------------------------------------


@given(intervals, intervals)
def test_overlap_is_symmetric(a, b):
    assert a.overlaps(b) == b.overlaps(a)


@given(intervals, intervals)
def test_overlap_means_sharing_some_instant(a, b):
    disjoint = a.end <= b.start or b.end <= a.start
    assert a.overlaps(b) is not disjoint


@given(intervals)
def test_an_interval_overlaps_itself_but_not_its_neighbours(a):
    length = a.end - a.start
    assert a.overlaps(a)
    assert not a.overlaps(Interval(a.end, a.end + length))
    assert not a.overlaps(Interval(a.start - length, a.start))


# --- working hours ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "length", "fits"),
    [
        (utc(8), 30, True),  # at the window's opening
        (utc(17, 30), 30, True),  # ends exactly at closing
        (utc(7, 59), 30, False),
        (utc(17, 31), 30, False),
        (utc(17, 45), 30, False),
        (utc(8), 600, True),  # the whole window
        (utc(7, 30), 660, False),
        (utc(9, days=5), 30, False),  # Saturday
        (utc(9, days=6), 30, False),  # Sunday
        (utc(9, days=7), 30, True),  # next Monday
    ],
)
def test_fits_working_hours_at_the_edges(start, length, fits):
    assert fits_working_hours(WEEKDAYS_8_TO_18, span(start, length), UTC) is fits


def test_a_visit_must_fit_one_window_even_if_windows_touch():
    split_day = [(0, time(8), time(12)), (0, time(12), time(16))]
    assert fits_working_hours(split_day, span(utc(11, 30), 30), UTC)
    assert fits_working_hours(split_day, span(utc(12), 30), UTC)
    assert not fits_working_hours(split_day, span(utc(11, 45), 30), UTC)


def test_working_hours_are_clinic_local():
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30: 08:00-18:00 local is 02:30-12:30 UTC
    assert fits_working_hours(WEEKDAYS_8_TO_18, span(utc(2, 30), 30), kolkata)
    assert fits_working_hours(WEEKDAYS_8_TO_18, span(utc(12), 30), kolkata)
    assert not fits_working_hours(WEEKDAYS_8_TO_18, span(utc(12, 15), 30), kolkata)
    assert not fits_working_hours(WEEKDAYS_8_TO_18, span(utc(2), 30), kolkata)


def test_day_windows_follow_daylight_saving_time():
    berlin = ZoneInfo("Europe/Berlin")  # CET (+1) until 2030-03-31 02:00, then CEST (+2)
    hours = [(day, time(8), time(18)) for day in range(7)]
    assert day_windows(hours, date(2030, 3, 30), berlin) == [
        Interval(datetime(2030, 3, 30, 7, tzinfo=UTC), datetime(2030, 3, 30, 17, tzinfo=UTC))
    ]
    assert day_windows(hours, date(2030, 3, 31), berlin) == [
        Interval(datetime(2030, 3, 31, 6, tzinfo=UTC), datetime(2030, 3, 31, 16, tzinfo=UTC))
    ]


def test_day_windows_are_those_of_the_weekday_in_order():
    hours = [(0, time(13), time(17)), (1, time(8), time(9)), (0, time(8), time(12))]
    assert day_windows(hours, MONDAY, UTC) == [span(utc(8), 240), span(utc(13), 240)]
    assert day_windows(hours, MONDAY + timedelta(days=2), UTC) == []


# --- slots -----------------------------------------------------------------


def test_slots_step_by_the_duration_and_fit_the_window():
    slots = list(candidate_slots([span(utc(8), 600)], timedelta(minutes=45)))
    assert len(slots) == 13
    assert slots[0] == span(utc(8), 45)
    assert slots[-1] == span(utc(17), 45)  # 17:45-18:30 would not fit


def test_slots_restart_at_each_window():
    windows = [span(utc(8), 70), span(utc(13), 60)]
    assert [s.start for s in candidate_slots(windows, timedelta(minutes=30))] == [
        utc(8),
        utc(8, 30),
        utc(13),
        utc(13, 30),
    ]


def test_free_slots_leave_out_booked_and_past_time():
    windows = [span(utc(8), 240)]
    busy = [span(utc(9), 30), span(utc(10, 15), 30)]
    slots = free_slots(windows, timedelta(minutes=30), busy, not_before=utc(8, 10))
    assert [s.start for s in slots] == [utc(8, 30), utc(9, 30), utc(11), utc(11, 30)]


def test_a_slot_starting_now_is_still_free():
    slots = free_slots([span(utc(8), 60)], timedelta(minutes=30), [], not_before=utc(8, 30))
    assert [s.start for s in slots] == [utc(8, 30)]


def test_candidate_slots_refuse_a_non_positive_duration():
    with pytest.raises(ValueError, match="positive"):
        list(candidate_slots([span(utc(8), 60)], timedelta(0)))


@given(
    st.lists(intervals, max_size=4),
    st.integers(15, 180),
    st.lists(intervals, max_size=6),
    minutes,
)
def test_free_slots_are_disjoint_inside_windows_clear_of_bookings_and_complete(windows, length, busy, after):
    windows = sorted(windows)
    # Working windows of one day never overlap each other.
    windows = [w for i, w in enumerate(windows) if not any(w.overlaps(o) for o in windows[:i])]
    duration = timedelta(minutes=length)
    not_before = BASE + timedelta(minutes=after)
    slots = free_slots(windows, duration, busy, not_before)
    for i, slot in enumerate(slots):
        assert slot.end - slot.start == duration
        assert slot.start >= not_before
        assert any(w.contains(slot) for w in windows)
        assert not any(slot.overlaps(b) for b in busy)
        assert not any(slot.overlaps(other) for other in slots[i + 1 :])
    expected = [
        c for c in candidate_slots(windows, duration) if c.start >= not_before and not any(c.overlaps(b) for b in busy)
    ]
    assert slots == expected


# --- lifecycle -------------------------------------------------------------

ALLOWED = {
    (Status.SCHEDULED, Status.CHECKED_IN),
    (Status.SCHEDULED, Status.COMPLETED),
    (Status.SCHEDULED, Status.CANCELLED),
    (Status.SCHEDULED, Status.NO_SHOW),
    (Status.CHECKED_IN, Status.COMPLETED),
    (Status.CHECKED_IN, Status.CANCELLED),
}


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_transition_table(current, target):
    assert can_transition(current, target) is ((current, target) in ALLOWED)
    problem = transition_problem(current, target, start_at=utc(8), now=utc(9))
    assert (problem is None) is ((current, target) in ALLOWED)


def test_only_scheduled_appointments_can_be_rescheduled():
    assert set(RESCHEDULABLE) == {Status.SCHEDULED}


def test_no_show_only_once_the_start_has_passed():
    assert "start time" in transition_problem(Status.SCHEDULED, Status.NO_SHOW, start_at=utc(9), now=utc(8, 59))
    assert transition_problem(Status.SCHEDULED, Status.NO_SHOW, start_at=utc(9), now=utc(9)) is None


# --- completion times ------------------------------------------------------

SCHEDULED = span(utc(9), 30)


def test_visit_defaults_to_scheduled_start_and_now():
    assert visit_times(scheduled=SCHEDULED, checked_in_at=None, started_at=None, ended_at=None, now=utc(9, 40)) == (
        utc(9),
        utc(9, 40),
    )


def test_visit_start_defaults_to_check_in():
    assert visit_times(
        scheduled=SCHEDULED, checked_in_at=utc(8, 50), started_at=None, ended_at=None, now=utc(9, 20)
    ) == (utc(8, 50), utc(9, 20))


def test_visit_seen_early_without_check_in_lasts_its_duration_up_to_the_end():
    assert visit_times(scheduled=SCHEDULED, checked_in_at=None, started_at=None, ended_at=None, now=utc(8, 15)) == (
        utc(7, 45),
        utc(8, 15),
    )


def test_given_visit_times_are_kept():
    assert visit_times(
        scheduled=SCHEDULED, checked_in_at=utc(8, 50), started_at=utc(9, 5), ended_at=utc(9, 25), now=utc(10)
    ) == (utc(9, 5), utc(9, 25))


@pytest.mark.parametrize(
    ("checked_in_at", "started_at", "ended_at", "field"),
    [
        (None, utc(9, 30), utc(9, 10), "started_at"),  # given start after given end
        (None, None, utc(10, 1), "ended_at"),  # end in the future
        (utc(9, 20), None, utc(9, 10), "started_at"),  # checked in after the given end
    ],
)
def test_impossible_visit_times_are_refused(checked_in_at, started_at, ended_at, field):
    with pytest.raises(VisitTimesError) as caught:
        visit_times(
            scheduled=SCHEDULED, checked_in_at=checked_in_at, started_at=started_at, ended_at=ended_at, now=utc(10)
        )
    assert caught.value.field == field
