"""Idempotency-Keys become the platform's, for every operation: longer scopes (an operation's method and
route), the response as sent (text and headers), and an index for retention. Payments' rows stay as they are.

Revision ID: 0017_platform_idempotency_keys
Revises: 0016_claims
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_platform_idempotency_keys"
down_revision: str | None = "0016_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "idempotency_keys"
CHECK = "ck_idempotency_keys_response_when_completed"
OLD_CHECK = "(state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL)"
NEW_CHECK = (
    "(state = 'completed') = (response_status IS NOT NULL AND (response_body IS NOT NULL OR response_text IS NOT NULL))"
)
IN_PROGRESS = "ix_idempotency_keys_in_progress"
WHERE = sa.text("state = 'in_progress'")


def _drop_in_progress_index() -> None:
    # Dropped and made again around the rebuild: SQLite's batch copy would not keep its WHERE clause.
    op.drop_index(IN_PROGRESS, table_name=TABLE, sqlite_where=WHERE, postgresql_where=WHERE)


def _create_in_progress_index() -> None:
    op.create_index(IN_PROGRESS, TABLE, ["scope", "claimed_at"], sqlite_where=WHERE, postgresql_where=WHERE)


def upgrade() -> None:
    _drop_in_progress_index()
    with op.batch_alter_table(TABLE, recreate="auto") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=50), type_=sa.String(length=200))
        batch.add_column(sa.Column("response_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("response_headers", sa.JSON(), nullable=True))
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.create_check_constraint(op.f(CHECK), sa.text(NEW_CHECK))
    _create_in_progress_index()
    op.create_index("ix_idempotency_keys_created_at", TABLE, ["created_at"])


def downgrade() -> None:
    # The rows of other operations than payments cannot be kept in the old shape.
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE response_text IS NOT NULL OR length(scope) > 50"))
    op.drop_index("ix_idempotency_keys_created_at", table_name=TABLE)
    _drop_in_progress_index()
    with op.batch_alter_table(TABLE, recreate="auto") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.create_check_constraint(op.f(CHECK), sa.text(OLD_CHECK))
        batch.drop_column("response_headers")
        batch.drop_column("response_text")
        batch.alter_column("scope", existing_type=sa.String(length=200), type_=sa.String(length=50))
    _create_in_progress_index()
