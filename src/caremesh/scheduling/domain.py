"""Pure rules of scheduling: intervals, working-hours fit, free slots, the visit lifecycle."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 180
DEFAULT_DURATION_MINUTES = 30

# Clinic-local weekly windows as the practitioners contract gives them: (weekday Monday=0, start, end).
WeeklyWindow = tuple[int, time, time]


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span of time [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        """Back-to-back intervals do not overlap."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def day_windows(working_hours: Iterable[WeeklyWindow], day: date, tz: tzinfo) -> list[Interval]:
    """The working windows of one clinic-local calendar day, as UTC intervals in order."""
    weekday = day.weekday()
    return sorted(
        Interval(
            datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
            datetime.combine(day, end, tzinfo=tz).astimezone(UTC),
        )
        for window_day, start, end in working_hours
        if window_day == weekday
    )


def fits_working_hours(working_hours: Iterable[WeeklyWindow], visit: Interval, tz: tzinfo) -> bool:
    """Whether the visit lies wholly inside one working window of the clinic-local day it starts on."""
    day = visit.start.astimezone(tz).date()
    return any(window.contains(visit) for window in day_windows(working_hours, day, tz))


def candidate_slots(windows: Iterable[Interval], duration: timedelta) -> Iterator[Interval]:
    """Slots stepping by `duration` from each window's start, each wholly inside its window."""
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    for window in windows:
        start = window.start
        while start + duration <= window.end:
            yield Interval(start, start + duration)
            start += duration


def free_slots(
    windows: Iterable[Interval], duration: timedelta, busy: Sequence[Interval], not_before: datetime
) -> list[Interval]:
    """Candidate slots that start at or after `not_before` and overlap nothing in `busy`."""
    return [
        slot
        for slot in candidate_slots(windows, duration)
        if slot.start >= not_before and not any(slot.overlaps(taken) for taken in busy)
    ]


class Status(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# Statuses that hold their slot (the database's overlap constraints ignore cancelled rows only).
HOLDS_SLOT = frozenset(Status) - {Status.CANCELLED}
OPEN = frozenset({Status.SCHEDULED, Status.CHECKED_IN})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.SCHEDULED: frozenset({Status.CHECKED_IN, Status.COMPLETED, Status.CANCELLED, Status.NO_SHOW}),
    Status.CHECKED_IN: frozenset({Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.NO_SHOW: frozenset(),
}
RESCHEDULABLE = frozenset({Status.SCHEDULED})


def can_transition(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def transition_problem(current: Status, target: Status, *, start_at: datetime, now: datetime) -> str | None:
    """Why the appointment may not move from `current` to `target` now, or None when it may."""
    if not can_transition(current, target):
        return f"An appointment that is {current.value} cannot become {target.value}."
    if target is Status.NO_SHOW and start_at > now:
        return "An appointment becomes a no-show only once its start time has passed."
    return None


class VisitTimesError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def visit_times(
    *,
    scheduled: Interval,
    checked_in_at: datetime | None,
    started_at: datetime | None,
    ended_at: datetime | None,
    now: datetime,
) -> tuple[datetime, datetime]:
    """When the visit really started and ended, for completion.

    `ended_at` defaults to now; `started_at` to the check-in time, else the scheduled start. When
    the start falls back to the scheduled start and that is after the end (the patient was seen
    early, without check-in), the visit is taken to have lasted its scheduled duration up to the
    end. A given start after the end, a check-in after the given end, or an end in the future is
    refused.
    """
    end = ended_at or now
    if end > now:
        raise VisitTimesError("ended_at", "must not be in the future")
    if started_at is not None:
        start = started_at
    elif checked_in_at is not None:
        start = checked_in_at
    else:
        start = scheduled.start
        if start > end:
            start = end - (scheduled.end - scheduled.start)
    if start > end:
        raise VisitTimesError("started_at", "must not be after ended_at")
    return start, end
