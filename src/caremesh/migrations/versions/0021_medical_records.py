"""Medical records (issue 15): `medical_records` (each entry as it stands) and `medical_record_versions` (every
version of an entry, written once: a trigger refuses UPDATE and DELETE), with CHECK constraints for the closed
vocabularies, each type's required fields and the physiological bounds of vital signs, the same the API refuses.

On PostgreSQL the tables live in the `records` schema (`<CAREMESH_DATABASE_SCHEMA>_records` with a prefix), with
the context's own outbox, deliveries, inbox and dead letters (as 0019 gave every context); on SQLite in the one
file, whose messaging tables exist already.

Revision ID: 0021_medical_records
Revises: 0020_audit_sealer
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_medical_records"
down_revision: str | None = "0020_audit_sealer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here (a migration must not read today's models).
TYPES = ("diagnosis", "allergy", "vital_signs", "note", "procedure")
STATUSES = ("current", "amended", "entered_in_error")
BOUNDS = {
    "heart_rate": ("20", "300"),
    "systolic_bp": ("40", "300"),
    "diastolic_bp": ("20", "200"),
    "temperature_c": ("30", "45"),
    "respiratory_rate": ("4", "80"),
    "spo2": ("50", "100"),
    "weight_kg": ("0.2", "650"),
    "height_cm": ("20", "275"),
}
FLOATS = ("temperature_c", "weight_kg", "height_cm")
REFUSAL = "medical record versions are written once: never updated or deleted"


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _checks(table: str) -> list[sa.CheckConstraint]:
    any_measure = " OR ".join(f"{name} IS NOT NULL" for name in BOUNDS)
    checks = {
        "type_known": f"type IN ({_quoted(TYPES)})",
        "status_known": f"status IN ({_quoted(STATUSES)})",
        "clinical_status_known": "clinical_status IS NULL OR clinical_status IN ('active', 'resolved')",
        "severity_known": "severity IS NULL OR severity IN ('mild', 'moderate', 'severe')",
        "diagnosis_complete": "type <> 'diagnosis'"
        " OR (code IS NOT NULL AND description IS NOT NULL AND clinical_status IS NOT NULL)",
        "allergy_complete": "type <> 'allergy' OR (substance IS NOT NULL AND severity IS NOT NULL)",
        "vital_signs_complete": f"type <> 'vital_signs' OR (measured_at IS NOT NULL AND ({any_measure}))",
        "note_complete": "type <> 'note' OR (text IS NOT NULL AND length(text) BETWEEN 1 AND 20000)",
        "procedure_complete": "type <> 'procedure' OR (code IS NOT NULL AND length(code) = 5 AND quantity >= 1)",
        "diastolic_below_systolic": "diastolic_bp IS NULL OR systolic_bp IS NULL OR diastolic_bp < systolic_bp",
        "version_positive": "version >= 1",
        **{
            f"{name}_in_bounds": f"{name} IS NULL OR ({name} >= {low} AND {name} <= {high})"
            for name, (low, high) in BOUNDS.items()
        },
    }
    return [sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}")) for name, sql in checks.items()]


def _entry_columns() -> list[sa.Column]:
    when = sa.DateTime(timezone=True)
    return [
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", when, nullable=False),
        sa.Column("code", sa.String(length=10), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("clinical_status", sa.String(length=10), nullable=True),
        sa.Column("onset_date", sa.Date(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("substance", sa.String(length=200), nullable=True),
        sa.Column("reaction", sa.String(length=500), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("measured_at", when, nullable=True),
        *(sa.Column(name, sa.Float() if name in FLOATS else sa.Integer(), nullable=True) for name in BOUNDS),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("retraction_reason", sa.String(length=500), nullable=True),
    ]


def _schema() -> str | None:
    """The records tables' physical schema on PostgreSQL (`records`, or `<prefix>_records`); None on SQLite."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    prefix = getattr(bind.get_execution_options().get("schema_translate_map"), "prefix", None)
    return f"{prefix}_records" if prefix else "records"


def upgrade() -> None:
    schema = _schema()
    if schema is not None:
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        _create_messaging_tables(schema)
    when = sa.DateTime(timezone=True)
    op.create_table(
        "medical_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_entry_columns(),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("retracted_at", when, nullable=True),
        *_checks("medical_records"),
        sa.CheckConstraint(
            "(status = 'entered_in_error') = (retracted_at IS NOT NULL)",
            name=op.f("ck_medical_records_retracted_iff_in_error"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_medical_records"),
        schema=schema,
    )
    op.create_index(
        "ix_medical_records_patient_created", "medical_records", ["patient_id", "created_at", "id"], schema=schema
    )
    op.create_index("ix_medical_records_appointment", "medical_records", ["appointment_id"], schema=schema)
    op.create_index("ix_medical_records_created", "medical_records", ["created_at", "id"], schema=schema)
    op.create_table(
        "medical_record_versions",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_entry_columns(),
        *_checks("medical_record_versions"),
        sa.ForeignKeyConstraint(
            ["record_id"],
            [f"{schema}.medical_records.id" if schema else "medical_records.id"],
            name="fk_medical_record_versions_record_id_medical_records",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("record_id", "version", name="pk_medical_record_versions"),
        schema=schema,
    )
    _written_once(schema)


def downgrade() -> None:
    schema = _schema()
    if schema is None:
        op.execute("DROP TRIGGER IF EXISTS medical_record_versions_no_update")
        op.execute("DROP TRIGGER IF EXISTS medical_record_versions_no_delete")
    op.drop_table("medical_record_versions", schema=schema)
    op.drop_index("ix_medical_records_created", "medical_records", schema=schema)
    op.drop_index("ix_medical_records_appointment", "medical_records", schema=schema)
    op.drop_index("ix_medical_records_patient_created", "medical_records", schema=schema)
    op.drop_table("medical_records", schema=schema)
    if schema is not None:
        _move_messaging_rows(schema, schema.removesuffix("records") + "platform")
        for table in ("dead_letters", "inbox", "event_deliveries", "outbox_events"):
            op.drop_table(table, schema=schema)
        op.execute(f'DROP FUNCTION "{schema}".medical_record_versions_written_once()')
        op.execute(f'DROP SCHEMA "{schema}"')  # empty now; refuses (and rolls back) if anything else is in it


OUTBOX = "id, type, version, occurred_at, correlation_id, causation_id, payload, published_at"
MESSAGING = {
    "outbox_events": OUTBOX,
    "event_deliveries": "consumer, event_id, event_type, envelope, attempts, next_attempt_at, last_error",
    "inbox": "consumer, event_id, event_type, processed_at",
    "dead_letters": "id, consumer, event_id, event_type, envelope, attempts, error, failed_at, replayed_at",
}


def _move_messaging_rows(source: str, target: str) -> None:
    """The context's events and deliveries into the platform's tables (as 0019's downgrade does): none is lost."""
    for table, columns in MESSAGING.items():
        order = " ORDER BY seq" if table == "outbox_events" else ""
        op.execute(f'INSERT INTO "{target}".{table} ({columns}) SELECT {columns} FROM "{source}".{table}{order}')


def _written_once(schema: str | None) -> None:
    """A version is never updated or deleted, whatever the code does."""
    if schema is None:
        for action, name in (("UPDATE", "no_update"), ("DELETE", "no_delete")):
            op.execute(
                f"CREATE TRIGGER medical_record_versions_{name} BEFORE {action} ON medical_record_versions"
                f" BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )
        return
    op.execute(
        f"""
        CREATE FUNCTION "{schema}".medical_record_versions_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{REFUSAL}';
        END $$
        """
    )
    op.execute(
        f'CREATE TRIGGER medical_record_versions_written_once BEFORE UPDATE OR DELETE ON "{schema}".medical_record_versions'
        f' FOR EACH ROW EXECUTE FUNCTION "{schema}".medical_record_versions_written_once()'
    )


def _create_messaging_tables(schema: str) -> None:
    """The context's outbox, deliveries, inbox and dead letters, as 0019 made every context's."""
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
