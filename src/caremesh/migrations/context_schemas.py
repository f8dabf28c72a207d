"""What a migration that adds a context needs (0024 on): on PostgreSQL the context's schema with its own outbox,
event deliveries, inbox and dead letters (as 0019 gave every context), and on downgrade their removal, the
context's events moved to the platform's tables first so that none is lost. SQLite keeps one file: nothing to do.

Migrations call these after they ran too: change nothing here that would change what an applied migration did;
add a function instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

OUTBOX = "id, type, version, occurred_at, correlation_id, causation_id, payload, published_at"
MESSAGING = {
    "outbox_events": OUTBOX,
    "event_deliveries": "consumer, event_id, event_type, envelope, attempts, next_attempt_at, last_error",
    "inbox": "consumer, event_id, event_type, processed_at",
    "dead_letters": "id, consumer, event_id, event_type, envelope, attempts, error, failed_at, replayed_at",
}


def physical_schema(logical: str) -> str | None:
    """Where a context's tables live on PostgreSQL (`<context>`, or `<CAREMESH_DATABASE_SCHEMA>_<context>`); None
    on SQLite."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    prefix = getattr(bind.get_execution_options().get("schema_translate_map"), "prefix", None)
    return f"{prefix}_{logical}" if prefix else logical


def create_context_schema(context: str) -> str | None:
    """The context's schema and its messaging tables (PostgreSQL); the schema's name, None on SQLite."""
    schema = physical_schema(context)
    if schema is not None:
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        _create_messaging_tables(schema)
    return schema


def drop_context_schema(context: str) -> None:
    """After the context's own tables are dropped: its events and deliveries into the platform's tables, then its
    messaging tables and its schema (PostgreSQL)."""
    schema = physical_schema(context)
    if schema is None:
        return
    platform = physical_schema("platform")
    for table, columns in MESSAGING.items():
        order = " ORDER BY seq" if table == "outbox_events" else ""
        op.execute(f'INSERT INTO "{platform}".{table} ({columns}) SELECT {columns} FROM "{schema}".{table}{order}')
    for table in ("dead_letters", "inbox", "event_deliveries", "outbox_events"):
        op.drop_table(table, schema=schema)
    op.execute(f'DROP SCHEMA "{schema}"')  # empty now; refuses (and rolls back) if anything else is in it


def _create_messaging_tables(schema: str) -> None:
    """The four tables of 0001_platform, in `schema`."""
    when = sa.DateTime(timezone=True)
    op.create_table(
        "outbox_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", when, nullable=False),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column("causation_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("published_at", when, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_events"),
        sa.UniqueConstraint("id", name="uq_outbox_events_id"),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_events_unpublished",
        "outbox_events",
        ["seq"],
        schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_event_deliveries"),
        schema=schema,
    )
    op.create_index("ix_event_deliveries_due", "event_deliveries", ["next_attempt_at"], schema=schema)
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("processed_at", when, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
        schema=schema,
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", when, nullable=False),
        sa.Column("replayed_at", when, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        schema=schema,
    )
    op.create_index("ix_dead_letters_consumer_event", "dead_letters", ["consumer", "event_id"], schema=schema)
