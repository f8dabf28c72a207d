"""Notifications: messages (one per event and channel, enforced by a unique constraint) and templates.

Revision ID: 0009_notifications
Revises: 0008_payments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_notifications"
down_revision: str | None = "0008_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_notifications_channel_known")),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f("ck_notifications_status_known")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notifications_attempts_not_negative")),
        sa.CheckConstraint(
            "status <> 'queued' OR next_attempt_at IS NOT NULL", name=op.f("ck_notifications_queued_is_due_sometime")
        ),
        sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name=op.f("ck_notifications_sent_has_sent_at")),
        sa.CheckConstraint("channel <> 'sms' OR subject IS NULL", name=op.f("ck_notifications_sms_has_no_subject")),
        sa.CheckConstraint(
            "status = 'queued' OR secret IS NULL", name=op.f("ck_notifications_secret_only_while_queued")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("source_event_id", "channel", name=op.f("uq_notifications_source_event_id_channel")),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"], unique=False)
    op.create_index(
        "ix_notifications_recipient_created", "notifications", ["recipient_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_notifications_created", "notifications", ["created_at", "id"], unique=False)
    op.create_table(
        "notification_templates",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_notification_templates_channel_known")),
        sa.CheckConstraint(
            "channel <> 'email' OR subject IS NOT NULL", name=op.f("ck_notification_templates_email_has_subject")
        ),
        sa.CheckConstraint(
            "channel <> 'sms' OR subject IS NULL", name=op.f("ck_notification_templates_sms_has_no_subject")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_notification_templates")),
    )


def downgrade() -> None:
    op.drop_table("notification_templates")
    op.drop_index("ix_notifications_created", table_name="notifications")
    op.drop_index("ix_notifications_recipient_created", table_name="notifications")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_table("notifications")
