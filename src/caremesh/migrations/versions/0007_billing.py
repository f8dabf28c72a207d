"""billing.

Revision ID: 0007_billing
Revises: 0006_scheduling
"""

from collections.abc import Sequence

revision: str = "0007_billing"
down_revision: str | None = "0006_scheduling"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
