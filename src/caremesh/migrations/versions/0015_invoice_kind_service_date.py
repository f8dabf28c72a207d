"""Billing: every invoice records what it charged (`kind`) and the day of the service (`service_date`), which
claims need for the category and the submission window.

Existing rows: visits are consultations, an order's invoice takes its order's type; the service date of existing
invoices is the UTC day they were issued.

Revision ID: 0015_invoice_kind_service_date
Revises: 0014_insurance
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_invoice_kind_service_date"
down_revision: str | None = "0014_insurance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('consultation', 'lab', 'medication', 'procedure')"


def upgrade() -> None:
    # One ALTER per column with the CHECK inline: both databases take it, and SQLite need not rebuild the table.
    op.execute(
        "ALTER TABLE invoices ADD COLUMN kind VARCHAR(20) DEFAULT 'consultation' NOT NULL"
        f" CONSTRAINT ck_invoices_kind_known CHECK ({KINDS})"
    )
    op.add_column("invoices", sa.Column("service_date", sa.Date(), nullable=False, server_default="1970-01-01"))
    op.execute("UPDATE invoices SET kind = 'lab' WHERE order_id IN (SELECT id FROM orders WHERE type = 'lab')")
    op.execute("UPDATE invoices SET kind = 'medication' WHERE order_id IN (SELECT id FROM orders WHERE type <> 'lab')")
    sqlite = op.get_bind().dialect.name == "sqlite"
    issued_day = "date(issued_at)" if sqlite else "CAST(issued_at AT TIME ZONE 'UTC' AS DATE)"
    op.execute(f"UPDATE invoices SET service_date = {issued_day}")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("service_date")
        batch.drop_column("kind")
