"""notifications.

Revision ID: 0009_notifications
Revises: 0008_payments
"""

from collections.abc import Sequence

revision: str = "0009_notifications"
down_revision: str | None = "0008_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
