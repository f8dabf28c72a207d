"""The audit chain's digest: SHA-256 over the previous hash and a canonical form of the event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from caremesh.audit.domain import GENESIS_HASH, event_digest

hashes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
optional_text = st.none() | st.text(max_size=64)
events = st.fixed_dictionaries(
    {
        "seq": st.integers(min_value=1, max_value=2**62),
        "id": st.uuids(),
        "at": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
        "actor_id": st.none() | st.uuids(),
        "action": st.text(min_size=1, max_size=64),
        "entity_type": st.text(min_size=1, max_size=64),
        "entity_id": optional_text,
        "request_id": optional_text,
        "ip": optional_text,
    }
)


def other_value(field: str, value: Any) -> Any:
    """A different value of the same kind for `field`."""
    if field == "seq":
        return value + 1
    if field in {"id", "actor_id"}:
        return uuid.uuid4() if value is None else uuid.UUID(int=(value.int + 1) % 2**128)
    if field == "at":
        return value + timedelta(microseconds=1)
    if value is None:
        return ""
    return value + "x"


def example_event() -> dict[str, Any]:
    return {
        "seq": 1,
        "id": uuid.UUID("3f0c0a52-8a1e-4d0a-9f57-1f7d2f0c9b11"),
        "at": datetime(2030, 1, 7, 6, 0, tzinfo=UTC),
        "actor_id": uuid.UUID("9b1d3c2e-0000-4000-8000-000000000001"),
        "action": "patient.read",
        "entity_type": "patient",
        "entity_id": "a9c1e6f4-1111-4222-8333-444455556666",
        "request_id": "req-1",
        "ip": "127.0.0.1",
    }


def test_the_digest_is_64_lower_hex():
    digest = event_digest(GENESIS_HASH, **example_event())

    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


@given(hashes, events)
def test_the_digest_is_deterministic(prev, event):
    assert event_digest(prev, **event) == event_digest(prev, **dict(event))


@given(hashes, events, st.sampled_from(sorted(example_event())))
def test_changing_any_field_changes_the_digest(prev, event, field):
    changed = {**event, field: other_value(field, event[field])}

    assert event_digest(prev, **changed) != event_digest(prev, **event)


@given(hashes, hashes, events)
def test_the_digest_depends_on_the_previous_hash(prev, other_prev, event):
    assert (event_digest(prev, **event) == event_digest(other_prev, **event)) == (prev == other_prev)


@given(events)
def test_none_and_empty_text_are_told_apart(event):
    for field in ("entity_id", "request_id", "ip"):
        assert event_digest(GENESIS_HASH, **{**event, field: None}) != event_digest(
            GENESIS_HASH, **{**event, field: ""}
        )


def test_the_same_instant_in_another_timezone_gives_the_same_digest():
    """Storage round-trips times as UTC; the digest must not depend on the offset they were made in."""
    event = example_event()
    in_india = event["at"].astimezone(timezone(timedelta(hours=5, minutes=30)))

    assert event_digest(GENESIS_HASH, **{**event, "at": in_india}) == event_digest(GENESIS_HASH, **event)


def test_fields_cannot_be_shifted_between_neighbours():
    """A canonical encoding: moving text from one field into the next changes the digest."""
    event = example_event()
    shifted = {**event, "entity_type": "patientp", "entity_id": event["entity_id"]}
    joined = {**event, "action": "patient.readpatient", "entity_type": ""}

    base = event_digest(GENESIS_HASH, **event)
    assert event_digest(GENESIS_HASH, **shifted) != base
    assert event_digest(GENESIS_HASH, **joined) != base
