"""Pure rules of the platform: cursors, backoff, rate limiting, money, time."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caremesh.platform.db import Money, UTCDateTime
from caremesh.platform.errors import Unprocessable
from caremesh.platform.messaging.consumer import backoff_seconds
from caremesh.platform.pagination import decode_cursor, encode_cursor
from caremesh.platform.ratelimit import MemoryRateLimiter, hit
from caremesh.platform.settings import parse_rate
from caremesh.platform.timeutil import format_utc, years_between


class Column:
    def __init__(self, python_type):
        self.type = type("T", (), {"python_type": python_type})()


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.uuids(),
)
def test_cursor_round_trips(moment, ident):
    columns = [Column(datetime), Column(uuid.UUID)]
    assert decode_cursor(encode_cursor([moment, ident]), columns) == [moment, ident]


@pytest.mark.parametrize("cursor", ["not-base64!", "bnVsbA", encode_cursor([1, 2, 3])])
def test_foreign_cursors_are_refused(cursor):
    with pytest.raises(Unprocessable) as error:
        decode_cursor(cursor, [Column(int), Column(int)])
    assert error.value.code == "INVALID_CURSOR"


@given(st.integers(min_value=1, max_value=50))
def test_backoff_grows_and_is_capped(attempt):
    delay = backoff_seconds(attempt, base=0.5, cap=60)
    assert 0 < delay <= 60
    assert delay >= min(60, 0.5 * 2 ** (attempt - 1)) / 2


async def test_rate_limiter_slides():
    now = [0.0]
    limiter = MemoryRateLimiter(monotonic=lambda: now[0])
    assert [await hit(limiter, "k", 2, 60) for _ in range(2)] == [None, None]
    assert await hit(limiter, "k", 2, 60) == pytest.approx(60)
    now[0] = 30
    assert await hit(limiter, "other", 2, 60) is None
    now[0] = 60.5
    assert await hit(limiter, "k", 2, 60) is None
    assert await hit(limiter, "k", 0, 60) is None  # 0 disables


async def test_rate_limiter_counts_every_key_or_none_and_gives_back():
    limiter = MemoryRateLimiter(monotonic=lambda: 0.0)
    assert (await limiter.acquire(["a"], 1, 60)).retry_after is None
    refused = await limiter.acquire(["a", "b"], 1, 60)  # "a" is full: "b" is not counted either
    assert refused.retry_after == pytest.approx(60)
    counted = await limiter.acquire(["b"], 1, 60)
    assert counted.retry_after is None
    await limiter.release(counted)
    assert (await limiter.acquire(["b"], 1, 60)).retry_after is None


def test_parse_rate():
    assert parse_rate("10/minute") == (10, 60.0)
    assert parse_rate("600/hour") == (600, 3600.0)


def test_money_is_exact_on_both_dialects():
    money = Money()
    sqlite = type("D", (), {"name": "sqlite"})()
    postgres = type("D", (), {"name": "postgresql"})()
    assert money.process_bind_param(Decimal("1663.205"), sqlite) == "1663.21"  # HALF_UP
    assert money.process_bind_param(Decimal("0.1") + Decimal("0.2"), postgres) == Decimal("0.30")
    assert money.process_result_value("1496.88", sqlite) == Decimal("1496.88")


def test_datetimes_are_stored_as_utc_and_naive_ones_refused():
    column = UTCDateTime()
    sqlite = type("D", (), {"name": "sqlite"})()
    ist = timezone(timedelta(hours=5, minutes=30))
    stored = column.process_bind_param(datetime(2030, 1, 7, 13, 30, tzinfo=ist), sqlite)
    assert stored == datetime(2030, 1, 7, 8, 0)
    assert column.process_result_value(stored, sqlite) == datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2030, 1, 7), sqlite)


def test_utc_output_and_whole_years():
    assert format_utc(datetime(2030, 1, 7, 8, tzinfo=UTC)) == "2030-01-07T08:00:00Z"
    assert years_between(date(2000, 2, 29), date(2030, 2, 28)) == 29
    assert years_between(date(2000, 2, 29), date(2030, 3, 1)) == 30


def test_cursor_decodes_through_the_real_column_types():
    from caremesh.identity.models import User

    moment, ident = datetime(2030, 1, 7, 6, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor([moment, ident]), [User.created_at, User.id]) == [moment, ident]
