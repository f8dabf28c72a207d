"""Claims (issue 16): a claim may be withdrawn (`withdrawn`, `withdrawn_at`; a withdrawn claim, like a rejected
one, no longer holds its invoice's one open claim), disputes carry attachments (`claim_dispute_attachments`, the
files themselves in the object store), and remittances are listed by payer, newest first.

PostgreSQL replaces the two CHECK constraints and the partial index. SQLite cannot change a CHECK constraint:
`claims` is rebuilt from its own stored definition with the two clauses edited (every other clause kept word for
word); since dropping it cascades to its lines and history, and its disputes refer to it, those are kept aside
and put back.

Revision ID: 0028_claims_attachments
Revises: 0027_insurance_edits_premiums
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import physical_schema

revision: str = "0028_claims_attachments"
down_revision: str | None = "0027_insurance_edits_premiums"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here (a migration must not read today's models).
OLD_STATUSES = "'draft', 'submitted', 'approved', 'partially_approved', 'rejected', 'paid'"
NEW_STATUSES = f"{OLD_STATUSES}, 'withdrawn'"
OLD_UNDECIDED = "'draft', 'submitted'"
NEW_UNDECIDED = "'draft', 'submitted', 'withdrawn'"
OLD_OPEN = "status <> 'rejected'"
NEW_OPEN = "status NOT IN ('rejected', 'withdrawn')"
OPEN_INDEX = "uq_claims_open_invoice"
CHILDREN = ("claim_lines", "claim_history", "claim_disputes")
MAX_BYTES = 10 * 1024 * 1024


def _checks(statuses: str, undecided: str) -> dict[str, str]:
    return {
        "status_known": f"status IN ({statuses})",
        "approved_amount_once_decided": f"(status IN ({undecided})) = (approved_amount IS NULL)",
    }


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def upgrade() -> None:
    schema = physical_schema("claims")
    _change_claims(schema, old=_checks(OLD_STATUSES, OLD_UNDECIDED), new=_checks(NEW_STATUSES, NEW_UNDECIDED))
    _replace_open_index(schema, NEW_OPEN)
    op.add_column("claims", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.create_index(
        "ix_remittances_payer_code_received_at", "remittances", ["payer_code", "received_at"], schema=schema
    )
    types = "'application/pdf', 'image/png', 'image/jpeg'"
    op.create_table(
        "claim_dispute_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"content_type IN ({types})", name=op.f("ck_claim_dispute_attachments_content_type_known")),
        sa.CheckConstraint(
            f"size > 0 AND size <= {MAX_BYTES}", name=op.f("ck_claim_dispute_attachments_size_within_limit")
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_claim_dispute_attachments_sha256_hex")),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            [_qualified(schema, "claim_disputes.id")],
            name="fk_claim_dispute_attachments_dispute_id_claim_disputes",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_claim_dispute_attachments"),
        sa.UniqueConstraint("storage_key", name="uq_claim_dispute_attachments_storage_key"),
        schema=schema,
    )
    op.create_index(
        "ix_claim_dispute_attachments_dispute_id_created_at",
        "claim_dispute_attachments",
        ["dispute_id", "created_at"],
        schema=schema,
    )


def downgrade() -> None:
    """Refused while a claim is withdrawn (the older schema has no such status). The attachments' rows go; their
    files stay in the object store."""
    schema = physical_schema("claims")
    withdrawn = op.get_bind().scalar(
        sa.text(f"SELECT count(*) FROM {_qualified(schema, 'claims')} WHERE status = 'withdrawn'")
    )
    if withdrawn:
        raise RuntimeError(f"{withdrawn} claim(s) are withdrawn: the schema before 0028 cannot hold them")
    op.drop_index("ix_claim_dispute_attachments_dispute_id_created_at", "claim_dispute_attachments", schema=schema)
    op.drop_table("claim_dispute_attachments", schema=schema)
    op.drop_index("ix_remittances_payer_code_received_at", "remittances", schema=schema)
    if schema is None:  # SQLite (3.35+) drops a column in place, its CHECK constraints untouched
        op.execute("ALTER TABLE claims DROP COLUMN withdrawn_at")
    else:
        op.drop_column("claims", "withdrawn_at", schema=schema)
    _replace_open_index(schema, OLD_OPEN)
    _change_claims(schema, old=_checks(NEW_STATUSES, NEW_UNDECIDED), new=_checks(OLD_STATUSES, OLD_UNDECIDED))


def _replace_open_index(schema: str | None, where: str) -> None:
    op.drop_index(OPEN_INDEX, "claims", schema=schema)
    condition = sa.text(where)
    op.create_index(
        OPEN_INDEX,
        "claims",
        ["invoice_id"],
        unique=True,
        schema=schema,
        sqlite_where=condition,
        postgresql_where=condition,
    )


def _change_claims(schema: str | None, *, old: dict[str, str], new: dict[str, str]) -> None:
    if schema is not None:
        for name, condition in new.items():
            op.drop_constraint(op.f(f"ck_claims_{name}"), "claims", type_="check", schema=schema)
            op.create_check_constraint(op.f(f"ck_claims_{name}"), "claims", sa.text(condition), schema=schema)
        return

    def edit(sql: str) -> str:
        for name, condition in old.items():
            clause = f"CONSTRAINT ck_claims_{name} CHECK ({condition})"
            if clause not in sql:
                raise RuntimeError(f"claims: the check {name} is not as the previous revision left it")
            sql = sql.replace(clause, f"CONSTRAINT ck_claims_{name} CHECK ({new[name]})")
        return sql

    _rebuild_sqlite_claims(edit)


def _rebuild_sqlite_claims(edit: Callable[[str], str]) -> None:
    """SQLite's twelve steps (https://sqlite.org/lang_altertable.html#otheralter) for `claims`, its definition
    changed by `edit`: its indexes re-created as they were; its lines and history (which the drop deletes, ON
    DELETE CASCADE) and disputes (which would refuse it) copied aside and back."""
    bind = op.get_bind()
    created = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'claims'"
    ).scalar_one()
    index_sql = list(
        bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'claims' AND sql IS NOT NULL"
        ).scalars()
    )
    # A renamed table's definition names it in quotes.
    new_table, found = re.subn(r'^CREATE TABLE "?claims"? ', "CREATE TABLE claims_rebuilt ", edit(created), count=1)
    if not found:
        raise RuntimeError("claims: unexpected table definition")
    for child in CHILDREN:
        op.execute(f"CREATE TEMPORARY TABLE {child}_kept AS SELECT * FROM {child}")
    op.execute("DELETE FROM claim_disputes")
    op.execute(new_table)
    op.execute("INSERT INTO claims_rebuilt SELECT * FROM claims")
    op.execute("DROP TABLE claims")
    op.execute("ALTER TABLE claims_rebuilt RENAME TO claims")
    for sql in index_sql:
        op.execute(sql)
    for child in CHILDREN:
        op.execute(f"INSERT INTO {child} SELECT * FROM {child}_kept")
        op.execute(f"DROP TABLE {child}_kept")
