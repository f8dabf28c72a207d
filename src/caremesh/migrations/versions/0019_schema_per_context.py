"""PostgreSQL: each context's tables move to a schema named after the context, the shared kernel's
(messaging, idempotency keys, number sequences) to `platform`. SQLite keeps one file: nothing changes.

With CAREMESH_DATABASE_SCHEMA set (test runs, installations sharing a database), the schemas are
`<that schema>_<context>`; the version table stays where it was. `ALTER TABLE … SET SCHEMA` moves each
table with its rows, indexes, constraints, triggers and owned sequences: no data is copied or lost.

Revision ID: 0019_schema_per_context
Revises: 0018_open_premium_bands
"""

from collections.abc import Sequence

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


def _schemas() -> tuple[str, str | None]:
    """Where the tables are now (the first schema of the search path, which also keeps the version table),
    and the prefix of the new schemas (the engine's CAREMESH_DATABASE_SCHEMA, if any)."""
    bind = op.get_bind()
    home = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    translate = bind.get_execution_options().get("schema_translate_map")
    return home, getattr(translate, "prefix", None)


def _physical(schema: str, prefix: str | None) -> str:
    return f"{prefix}_{schema}" if prefix else schema


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    home, prefix = _schemas()
    for schema, tables in TABLES.items():
        target = _physical(schema, prefix)
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{target}"')
        for table in tables:
            op.execute(f'ALTER TABLE "{home}"."{table}" SET SCHEMA "{target}"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    home, prefix = _schemas()
    for schema, tables in TABLES.items():
        source = _physical(schema, prefix)
        for table in tables:
            op.execute(f'ALTER TABLE "{source}"."{table}" SET SCHEMA "{home}"')
        op.execute(f'DROP SCHEMA "{source}"')  # empty now; refuses (and rolls back) if anything else is in it
