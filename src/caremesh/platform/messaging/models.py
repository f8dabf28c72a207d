"""Tables of the messaging kernel: an outbox, event deliveries, an inbox and dead letters per schema.

On PostgreSQL each context owns one set in its own schema (a publisher's outbox, a consumer's deliveries, inbox
and dead letters), and `platform` owns one for events and consumers that belong to no context (tests, tools).
On SQLite every set names the same four tables of the one file: the embedded mode is unchanged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import PLATFORM_SCHEMA, Base, UTCDateTime, partial_index, schema_of_module

BigId = BigInteger().with_variant(Integer, "sqlite")


class OutboxColumns:
    """Events appended in the same transaction as the change they describe."""

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    causation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryColumns:
    """One pending delivery of an event to one consumer (the in-process transport's queue)."""

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxColumns:
    """An event a consumer has already handled; written in the same transaction as the effect."""

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeadLetterColumns:
    """A delivery that kept failing; an operator lists and replays these from the CLI."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _indexes(table: str) -> tuple[Any, ...]:
    if table == "outbox_events":
        return (partial_index("ix_outbox_events_unpublished", "seq", where="published_at IS NULL"),)
    if table == "event_deliveries":
        return (Index("ix_event_deliveries_due", "next_attempt_at"),)
    if table == "dead_letters":
        return (Index("ix_dead_letters_consumer_event", "consumer", "event_id"),)
    return ()


@dataclass(frozen=True)
class MessagingTables:
    """The four messaging tables of one schema."""

    schema: str
    outbox: type[Any]
    deliveries: type[Any]
    inbox: type[Any]
    dead_letters: type[Any]


_sets: dict[str, MessagingTables] = {}
_KINDS = (
    ("OutboxEvent", OutboxColumns, "outbox_events"),
    ("EventDelivery", DeliveryColumns, "event_deliveries"),
    ("InboxEntry", InboxColumns, "inbox"),
    ("DeadLetter", DeadLetterColumns, "dead_letters"),
)


def messaging_tables(schema: str) -> MessagingTables:
    """The messaging tables of a logical schema (a context's, or `platform`), declared on first use."""
    if schema not in _sets:
        prefix = "".join(part.title() for part in schema.split("_"))
        classes = [
            type(
                f"{prefix}{name}",
                (columns, Base),
                {
                    "__tablename__": table,
                    "__table_args__": (*_indexes(table), {"schema": schema}),
                    "__module__": __name__,
                    "__doc__": columns.__doc__,
                },
            )
            for name, columns, table in _KINDS
        ]
        _sets[schema] = MessagingTables(schema, *classes)
    return _sets[schema]


def every_messaging_set(dialect: str) -> list[MessagingTables]:
    """Every set of messaging tables, each physical table once: on SQLite all share one set."""
    if dialect == "sqlite":
        return [messaging_tables(PLATFORM_SCHEMA)]
    return list(_sets.values())


def schema_of_event(event_class: type) -> str:
    """Where a publisher's events go: the outbox of the context whose module declares the event class."""
    schema = schema_of_module(event_class.__module__)
    return schema if schema in _sets else PLATFORM_SCHEMA


def schema_of_consumer(consumer: str) -> str:
    """Where a consumer's deliveries, inbox and dead letters live: the context it is named after
    (`billing`, `billing.reminders`), else the platform's."""
    schema = consumer.split(".", 1)[0]
    return schema if schema in _sets else PLATFORM_SCHEMA


# The platform's own set, under the names the kernel and the tests have always used.
_platform = messaging_tables(PLATFORM_SCHEMA)
OutboxEvent = _platform.outbox
EventDelivery = _platform.deliveries
InboxEntry = _platform.inbox
DeadLetter = _platform.dead_letters
