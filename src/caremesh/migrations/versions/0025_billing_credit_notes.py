"""Credit notes, manual and premium invoices (issue 16).

Invoices gain `credited_amount` (the sum of their credit notes), `insurance_category` (what the split was computed
under) and `premium_billing_id` (unique: one premium invoice per premium billing of insurance's). Their CHECK
constraints change so that payments, payments in flight and credit together never exceed the patient's share, and
the status follows payments and credit; the kinds `manual` and `premium` are allowed. Credit notes are a table of
their own.

PostgreSQL drops and re-creates the changed constraints. SQLite cannot: the invoices table is rebuilt from its own
stored definition with those clauses edited (the others come through word for word), its lines kept aside meanwhile
(the drop cascades to them), as 0022 does.

Revision ID: 0025_billing_credit_notes
Revises: 0024_facilities
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import physical_schema
from caremesh.platform.db import Money

revision: str = "0025_billing_credit_notes"
down_revision: str | None = "0024_facilities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_INVOICE_PER_PREMIUM_BILLING = "uq_invoices_premium_billing_id"
NEW_COLUMNS = ("credited_amount", "insurance_category", "premium_billing_id")


def cents(column: str) -> str:
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"


PAID, PENDING, PATIENT, CREDITED = (
    cents(c) for c in ("amount_paid", "amount_pending", "patient_amount", "credited_amount")
)

OLD_KINDS = "kind IN ('consultation', 'lab', 'medication', 'procedure')"
NEW_KINDS = "kind IN ('consultation', 'lab', 'medication', 'procedure', 'manual', 'premium')"
OLD_WITHIN = f"{PAID} + {PENDING} <= {PATIENT}"
NEW_WITHIN = f"{PAID} + {PENDING} + {CREDITED} <= {PATIENT}"
OLD_STATUS = (
    f"(status = 'void' AND {PAID} = 0 AND {PENDING} = 0)"
    f" OR (status = 'issued' AND {PAID} = 0 AND {PATIENT} > 0)"
    f" OR (status = 'partially_paid' AND {PAID} > 0 AND {PAID} < {PATIENT})"
    f" OR (status = 'paid' AND {PAID} = {PATIENT})"
)
NEW_STATUS = (
    f"(status = 'void' AND {PAID} = 0 AND {PENDING} = 0 AND {CREDITED} = 0)"
    f" OR (status = 'issued' AND {PAID} = 0 AND {CREDITED} < {PATIENT})"
    f" OR (status = 'partially_paid' AND {PAID} > 0 AND {PAID} + {CREDITED} < {PATIENT})"
    f" OR (status = 'paid' AND {PAID} + {CREDITED} = {PATIENT})"
)
# Changed: (name, before, after). Added: (name, condition).
CHANGED = (
    ("kind_known", OLD_KINDS, NEW_KINDS),
    ("payments_within_patient_amount", OLD_WITHIN, NEW_WITHIN),
    ("status_matches_payments", OLD_STATUS, NEW_STATUS),
)
ADDED = (
    ("credited_amount_not_negative", f"{CREDITED} >= 0"),
    ("premium_names_its_billing", "(kind = 'premium') = (premium_billing_id IS NOT NULL)"),
)


def upgrade() -> None:
    schema = physical_schema("billing")
    op.add_column(
        "invoices", sa.Column("credited_amount", Money(), server_default="0.00", nullable=False), schema=schema
    )
    op.add_column("invoices", sa.Column("insurance_category", sa.String(length=20), nullable=True), schema=schema)
    op.add_column("invoices", sa.Column("premium_billing_id", sa.Uuid(), nullable=True), schema=schema)
    table = f'"{schema}".invoices' if schema else "invoices"
    # The invoices issued so far were split under their kind's category (medication: insurance's pharmacy).
    op.execute(f"UPDATE {table} SET insurance_category = CASE kind WHEN 'medication' THEN 'pharmacy' ELSE kind END")
    op.create_index(ONE_INVOICE_PER_PREMIUM_BILLING, "invoices", ["premium_billing_id"], unique=True, schema=schema)
    _change_checks(schema, forward=True)
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"{cents('amount')} > 0", name=op.f("ck_credit_notes_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            [f"{schema}.invoices.id" if schema else "invoices.id"],
            name=op.f("fk_credit_notes_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_notes_number")),
        schema=schema,
    )
    op.create_index("ix_credit_notes_invoice_id_number", "credit_notes", ["invoice_id", "number"], schema=schema)
    op.create_index("ix_credit_notes_patient_id", "credit_notes", ["patient_id"], schema=schema)


def downgrade() -> None:
    """Refused while credit notes, manual or premium invoices exist: the older schema cannot hold them, and
    dropping them would silently change what patients owe."""
    schema = physical_schema("billing")
    table = f'"{schema}".' if schema else ""
    bind = op.get_bind()
    credit_notes = bind.execute(sa.text(f"SELECT count(*) FROM {table}credit_notes")).scalar_one()
    new_kinds = bind.execute(
        sa.text(f"SELECT count(*) FROM {table}invoices WHERE kind IN ('manual', 'premium')")
    ).scalar_one()
    if credit_notes or new_kinds:
        raise RuntimeError(
            f"0025 cannot be undone: {credit_notes} credit notes and {new_kinds} manual or premium invoices exist"
        )
    op.drop_index("ix_credit_notes_patient_id", "credit_notes", schema=schema)
    op.drop_index("ix_credit_notes_invoice_id_number", "credit_notes", schema=schema)
    op.drop_table("credit_notes", schema=schema)
    _change_checks(schema, forward=False)
    op.drop_index(ONE_INVOICE_PER_PREMIUM_BILLING, "invoices", schema=schema)
    for column in reversed(NEW_COLUMNS):
        if schema is None:  # SQLite (3.35+) drops a column in place, its CHECK constraints untouched
            op.execute(f"ALTER TABLE invoices DROP COLUMN {column}")
        else:
            op.drop_column("invoices", column, schema=schema)


def _change_checks(schema: str | None, *, forward: bool) -> None:
    if schema is None:
        _rebuild_sqlite_invoices(lambda sql: _edited(sql, forward=forward))
        return
    for name, before, after in CHANGED:
        op.drop_constraint(op.f(f"ck_invoices_{name}"), "invoices", type_="check", schema=schema)
        op.create_check_constraint(op.f(f"ck_invoices_{name}"), "invoices", after if forward else before, schema=schema)
    for name, condition in ADDED:
        if forward:
            op.create_check_constraint(op.f(f"ck_invoices_{name}"), "invoices", condition, schema=schema)
        else:
            op.drop_constraint(op.f(f"ck_invoices_{name}"), "invoices", type_="check", schema=schema)


def _edited(sql: str, *, forward: bool) -> str:
    """The invoices table's definition with the changed constraints replaced and the added ones added (forward),
    or the reverse."""
    for name, before, after in CHANGED:
        sql = _replace_check(sql, name, after if forward else before)
    anchor = "CONSTRAINT uq_invoices_number UNIQUE (number)"
    if anchor not in sql:
        raise RuntimeError("invoices: the unique constraint on number is not where 0007 put it")
    for name, condition in ADDED:
        clause = f"CONSTRAINT ck_invoices_{name} CHECK ({condition})"
        old, new = (anchor, f"{clause}, \n\t{anchor}") if forward else (f"{clause}, \n\t", "")
        if old not in sql:
            raise RuntimeError(f"invoices: ck_invoices_{name} is not where 0025 puts it")
        sql = sql.replace(old, new)
    return sql


def _replace_check(sql: str, name: str, condition: str) -> str:
    """Replace the condition of CHECK constraint `ck_invoices_<name>` (its parentheses balanced)."""
    head = f"CONSTRAINT ck_invoices_{name} CHECK ("
    start = sql.find(head)
    if start < 0:
        raise RuntimeError(f"invoices: no constraint ck_invoices_{name}")
    depth, position = 1, start + len(head)
    while depth:
        depth += {"(": 1, ")": -1}.get(sql[position], 0)
        position += 1
    return f"{sql[:start]}{head}{condition}){sql[position:]}"


def _rebuild_sqlite_invoices(edit: Callable[[str], str]) -> None:
    """SQLite's twelve steps (https://sqlite.org/lang_altertable.html#otheralter) for `invoices`, its definition
    changed by `edit`: its indexes are re-created as they were; its lines, which the drop deletes (ON DELETE
    CASCADE), are copied aside and back. (0022's procedure; migrations do not import each other.)"""
    bind = op.get_bind()
    table_sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'invoices'")
    created = table_sql.scalar_one()
    indexes = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invoices' AND sql IS NOT NULL"
    ).scalars()
    index_sql = list(indexes)
    new_table, found = re.subn(r'^CREATE TABLE "?invoices"? ', "CREATE TABLE invoices_rebuilt ", edit(created), count=1)
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
