"""Insurance: the last premium band of a scheme may be open-ended (`max_age` NULL: that age and over).

Revision ID: 0018_open_premium_bands
Revises: 0017_platform_idempotency_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_open_premium_bands"
down_revision: str | None = "0017_platform_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_insurance_premium_rates_age_band_valid"
CLOSED = "min_age >= 0 AND max_age >= min_age AND max_age <= 150"
OPEN = "min_age >= 0 AND min_age <= 150 AND (max_age IS NULL OR (max_age >= min_age AND max_age <= 150))"


def upgrade() -> None:
    with op.batch_alter_table("insurance_premium_rates") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.alter_column("max_age", existing_type=sa.Integer(), nullable=True)
        batch.create_check_constraint(op.f(CHECK), sa.text(OPEN))


def downgrade() -> None:
    op.execute("UPDATE insurance_premium_rates SET max_age = 150 WHERE max_age IS NULL")
    with op.batch_alter_table("insurance_premium_rates") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.alter_column("max_age", existing_type=sa.Integer(), nullable=False)
        batch.create_check_constraint(op.f(CHECK), sa.text(CLOSED))
