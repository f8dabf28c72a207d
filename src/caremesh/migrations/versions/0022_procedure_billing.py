"""Procedures billed (issue 15): a visit has one consultation invoice (not one invoice) so that supplementary
invoices of kind `procedure` may name the same appointment, and an invoice line remembers the medical record it
bills (`source_record_id`, unique: a procedure is billed once however its events are delivered).

PostgreSQL drops the unique constraint and adds a partial unique index. SQLite cannot drop a constraint: the
invoices table is rebuilt from its own stored definition less that one clause (its CHECK constraints kept word
for word), and since dropping it cascades to the lines, the lines are kept aside and put back.

Revision ID: 0022_procedure_billing
Revises: 0021_medical_records
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_procedure_billing"
down_revision: str | None = "0021_medical_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_CONSULTATION = "uq_invoices_consultation_appointment"
BY_APPOINTMENT = "ix_invoices_appointment_id"
ONE_LINE_PER_RECORD = "uq_invoice_lines_source_record_id"
CONSULTATION = sa.text("kind = 'consultation'")
UNIQUE_CLAUSE = "CONSTRAINT uq_invoices_appointment_id UNIQUE (appointment_id)"


def _schema() -> str | None:
    """Billing's physical schema on PostgreSQL (`billing`, or `<prefix>_billing`); None on SQLite."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    prefix = getattr(bind.get_execution_options().get("schema_translate_map"), "prefix", None)
    return f"{prefix}_billing" if prefix else "billing"


def upgrade() -> None:
    schema = _schema()
    op.add_column("invoice_lines", sa.Column("source_record_id", sa.Uuid(), nullable=True), schema=schema)
    op.create_index(ONE_LINE_PER_RECORD, "invoice_lines", ["source_record_id"], unique=True, schema=schema)
    if schema is None:
        _rebuild_sqlite_invoices(lambda sql: _without_unique(sql))
    else:
        op.drop_constraint("uq_invoices_appointment_id", "invoices", type_="unique", schema=schema)
    op.create_index(
        ONE_CONSULTATION,
        "invoices",
        ["appointment_id"],
        unique=True,
        schema=schema,
        sqlite_where=CONSULTATION,
        postgresql_where=CONSULTATION,
    )
    op.create_index(BY_APPOINTMENT, "invoices", ["appointment_id"], schema=schema)


def downgrade() -> None:
    """Refused by the database while a visit has a supplementary invoice (two invoices of one appointment)."""
    schema = _schema()
    op.drop_index(BY_APPOINTMENT, "invoices", schema=schema)
    op.drop_index(ONE_CONSULTATION, "invoices", schema=schema, sqlite_where=CONSULTATION, postgresql_where=CONSULTATION)
    if schema is None:
        _rebuild_sqlite_invoices(_with_unique)
    else:
        op.create_unique_constraint("uq_invoices_appointment_id", "invoices", ["appointment_id"], schema=schema)
    op.drop_index(ONE_LINE_PER_RECORD, "invoice_lines", schema=schema)
    if schema is None:  # SQLite (3.35+) drops a column in place, its CHECK constraints untouched
        op.execute("ALTER TABLE invoice_lines DROP COLUMN source_record_id")
    else:
        op.drop_column("invoice_lines", "source_record_id", schema=schema)


def _without_unique(sql: str) -> str:
    clause = f", \n\t{UNIQUE_CLAUSE}"
    if clause in sql:
        return sql.replace(clause, "")
    if UNIQUE_CLAUSE not in sql:
        raise RuntimeError("invoices: the unique constraint on appointment_id is not where 0007 put it")
    return sql.replace(f"{UNIQUE_CLAUSE}, ", "").replace(f", {UNIQUE_CLAUSE}", "")


def _with_unique(sql: str) -> str:
    anchor = "CONSTRAINT uq_invoices_number UNIQUE (number)"
    if anchor not in sql:
        raise RuntimeError("invoices: the unique constraint on number is not where 0007 put it")
    return sql.replace(anchor, f"{anchor}, \n\t{UNIQUE_CLAUSE}")


def _rebuild_sqlite_invoices(edit) -> None:  # type: ignore[no-untyped-def]
    """SQLite's twelve steps (https://sqlite.org/lang_altertable.html#otheralter) for `invoices`, its definition
    changed by `edit`: its indexes are re-created as they were; its lines, which the drop deletes (ON DELETE
    CASCADE), are copied aside and back."""
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'invoices'")
    created = table_sql.scalar_one()
    indexes = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invoices' AND sql IS NOT NULL"
    ).scalars()
    index_sql = list(indexes)
    edited = edit(created)
    # A renamed table's definition names it in quotes.
    new_table, found = re.subn(r'^CREATE TABLE "?invoices"? ', "CREATE TABLE invoices_rebuilt ", edited, count=1)
    if not found:
        raise RuntimeError("invoices: unexpected table definition")
    op.execute("CREATE TEMPORARY TABLE invoice_lines_kept AS SELECT * FROM invoice_lines")
    op.execute(new_table)
    op.execute("INSERT INTO invoices_rebuilt SELECT * FROM invoices")
    op.execute("DROP TABLE invoices")
    op.execute("ALTER TABLE invoices_rebuilt RENAME TO invoices")
    for sql in index_sql:
        op.execute(sql)
    op.execute("INSERT INTO invoice_lines SELECT * FROM invoice_lines_kept")
    op.execute("DROP TABLE invoice_lines_kept")
