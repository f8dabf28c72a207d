"""PostgreSQL: each context's tables move to a schema named after the context, the shared kernel's
(messaging, idempotency keys, number sequences) to `platform`, and each context gets its own outbox, event
deliveries, inbox and dead letters: the shared rows are split among them (outbox events by the context that
published them, the rest by the consumer's context); rows of no context stay the platform's. SQLite keeps one
file: nothing changes.

With CAREMESH_DATABASE_SCHEMA set (test runs, installations sharing a database), the schemas are
`<that schema>_<context>`; the version table stays where it was. `ALTER TABLE … SET SCHEMA` moves each
table with its rows, indexes, constraints, triggers and owned sequences: no data is copied or lost.

Revision ID: 0019_schema_per_context
Revises: 0018_open_premium_bands
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_schema_per_context"
down_revision: str | None = "0018_open_premium_bands"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here (a migration must not read today's models): the tables of each schema at this revision.
TABLES: dict[str, tuple[str, ...]] = {
    "identity": ("users", "auth_sessions", "refresh_tokens", "password_reset_tokens"),
    "audit": ("audit_chain_head", "audit_events"),
    "patients": ("patients",),
    "practitioners": ("specialties", "practitioners", "practitioner_working_hours"),
    "scheduling": ("appointments",),
    "billing": ("tariffs", "invoices", "invoice_lines"),
    "payments": ("payments", "refunds"),
    "insurance": (
        "insurance_payers",
        "insurance_schemes",
        "insurance_benefits",
        "insurance_premium_rates",
        "insurance_coverages",
        "insurance_accumulators",
        "insurance_preauthorizations",
    ),
    "pharmacy": ("medications", "pharmacy_orders", "medication_reservations"),
    "lab": ("lab_tests", "lab_test_days", "lab_orders", "lab_known_orders"),
    "orders": ("orders", "order_items", "order_events"),
    "claims": ("claims", "claim_lines", "claim_history", "claim_disputes", "remittances", "remittance_items"),
    "notifications": ("notification_templates", "notifications"),
    "platform": ("outbox_events", "event_deliveries", "inbox", "dead_letters", "idempotency_keys", "number_sequences"),
}


# The contexts that publish, by the first part of their event types; consumers are named after their context.
PUBLISHERS: dict[str, tuple[str, ...]] = {
    "identity": ("user",),
    "patients": ("patient",),
    "practitioners": ("practitioner",),
    "scheduling": ("appointment",),
    "billing": ("invoice",),
    "payments": ("payment",),
    "insurance": ("coverage", "scheme"),
    "pharmacy": ("medication",),
    "lab": ("lab",),
    "orders": ("order",),
    "claims": ("claim",),
}
CONTEXTS = tuple(schema for schema in TABLES if schema != "platform")
OUTBOX = "id, type, version, occurred_at, correlation_id, causation_id, payload, published_at"
COLUMNS = {
    "event_deliveries": "consumer, event_id, event_type, envelope, attempts, next_attempt_at, last_error",
    "inbox": "consumer, event_id, event_type, processed_at",
    "dead_letters": "id, consumer, event_id, event_type, envelope, attempts, error, failed_at, replayed_at",
}


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


def _move_rows(source: str, target: str, context: str | None) -> None:
    """Move the rows that belong to `context` (None: every row) from the messaging tables of `source` to
    those of `target`."""
    types = ", ".join(f"'{prefix}'" for prefix in PUBLISHERS.get(context or "", ()))
    published = "true" if context is None else f"split_part(type, '.', 1) IN ({types})" if types else None
    consumed = "true" if context is None else f"split_part(consumer, '.', 1) = '{context}'"
    if published:
        op.execute(
            f'INSERT INTO "{target}".outbox_events ({OUTBOX}) SELECT {OUTBOX} FROM "{source}".outbox_events'
            f" WHERE {published} ORDER BY seq"
        )
        op.execute(f'DELETE FROM "{source}".outbox_events WHERE {published}')
    for table, columns in COLUMNS.items():
        op.execute(
            f'INSERT INTO "{target}".{table} ({columns}) SELECT {columns} FROM "{source}".{table} WHERE {consumed}'
        )
        op.execute(f'DELETE FROM "{source}".{table} WHERE {consumed}')


def _schemas() -> tuple[str, str | None]:
    """Where the tables are now (the first schema of the search path, which also keeps the version table),
    and the prefix of the new schemas (the engine's CAREMESH_DATABASE_SCHEMA, if any)."""
    bind = op.get_bind()
    home = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    translate = bind.get_execution_options().get("schema_translate_map")
    return home, getattr(translate, "prefix", None)


def _physical(schema: str, prefix: str | None) -> str:
    return f"{prefix}_{schema}" if prefix else schema


def _fold_number_sequences(platform: str) -> None:
    """The numbers' sequences, created on demand in `platform` by later code (platform/numbering.py, issue 13),
    go back into the counter table that the code of this revision numbers from: no number is given twice."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text(
            "SELECT sequencename, last_value FROM pg_sequences"
            " WHERE schemaname = :schema AND sequencename LIKE 'number\\_%'"
        ),
        {"schema": platform},
    ).all()
    for name, last_value in found:
        _, prefix, year = name.rsplit("_", 2)
        if last_value is not None:
            bind.execute(
                sa.text(
                    f'INSERT INTO "{platform}".number_sequences (prefix, year, last_value) VALUES (:prefix, :year, :n)'
                    " ON CONFLICT (prefix, year) DO UPDATE"
                    " SET last_value = GREATEST(number_sequences.last_value, excluded.last_value)"
                ),
                {"prefix": prefix.upper(), "year": int(year), "n": last_value},
            )
        op.execute(f'DROP SEQUENCE "{platform}"."{name}"')


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    home, prefix = _schemas()
    for schema, tables in TABLES.items():
        target = _physical(schema, prefix)
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{target}"')
        for table in tables:
            op.execute(f'ALTER TABLE "{home}"."{table}" SET SCHEMA "{target}"')
    platform = _physical("platform", prefix)
    for context in CONTEXTS:
        _create_messaging_tables(_physical(context, prefix))
        _move_rows(platform, _physical(context, prefix), context)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    home, prefix = _schemas()
    platform = _physical("platform", prefix)
    _fold_number_sequences(platform)
    for context in CONTEXTS:  # every context's messaging rows back into the one shared set
        schema = _physical(context, prefix)
        _move_rows(schema, platform, None)
        for table in ("dead_letters", "inbox", "event_deliveries", "outbox_events"):
            op.drop_table(table, schema=schema)
    for schema, tables in TABLES.items():
        source = _physical(schema, prefix)
        for table in tables:
            op.execute(f'ALTER TABLE "{source}"."{table}" SET SCHEMA "{home}"')
        op.execute(f'DROP SCHEMA "{source}"')  # empty now; refuses (and rolls back) if anything else is in it
