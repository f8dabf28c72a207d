"""Payments: a partial index on unfinished idempotency keys, for the resolver of abandoned attempts.

Revision ID: 0013_idempotency_in_progress
Revises: 0012_orders
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_idempotency_in_progress"
down_revision: str | None = "0012_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_idempotency_keys_in_progress",
        "idempotency_keys",
        ["scope", "claimed_at"],
        unique=False,
        sqlite_where=sa.text("state = 'in_progress'"),
        postgresql_where=sa.text("state = 'in_progress'"),
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_in_progress", table_name="idempotency_keys")
