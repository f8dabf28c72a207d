"""Datetimes in and out of the API: naive input is read in the clinic timezone; output is UTC with `Z`."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_clinic_tz: tzinfo = UTC


def set_clinic_timezone(tz: tzinfo) -> None:
    global _clinic_tz
    _clinic_tz = tz


def clinic_timezone() -> tzinfo:
    return _clinic_tz


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_clinic_tz)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # e.g. 0001-01-01T00:00+05:00 has no UTC form
        raise ValueError("the datetime is out of range") from error


def format_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def clinic_date(value: datetime) -> date:
    """The calendar date at the clinic for an instant."""
    return value.astimezone(_clinic_tz).date()


def years_between(start: date, end: date) -> int:
    """Whole years from `start` to `end` (birthdays and practice anniversaries)."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _refuse_numbers(value: object) -> object:
    if isinstance(value, int | float):
        raise ValueError("give an RFC 3339 datetime, not a number")
    return value


# Request field: an RFC 3339 datetime (never a Unix number); naive ones are clinic-local.
InDateTime = Annotated[datetime, BeforeValidator(_refuse_numbers), AfterValidator(to_utc)]
# Response field: always UTC with `Z`.
OutDateTime = Annotated[datetime, PlainSerializer(format_utc, return_type=str)]

__all__ = [
    "InDateTime",
    "OutDateTime",
    "ZoneInfo",
    "clinic_date",
    "clinic_timezone",
    "format_utc",
    "set_clinic_timezone",
    "to_utc",
    "years_between",
]
