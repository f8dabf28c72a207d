"""Identity and notifications additions (issue 16): a user's phone number (their profile), what a session shows
its owner (user agent, last use), patient self-registration's verification tokens, and the event type a template
added for any published event answers (NULL for the built-in kinds, whose code names it), one template per event
type and channel.

Columns are added in place on both databases. (The id the issue's plan named, 0029_identity_profile_registration,
is 34 characters: longer than alembic_version.version_num's 32 on PostgreSQL.) Existing sessions count as last used when they were created.

Revision ID: 0029_identity_registration
Revises: 0028_claims_attachments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caremesh.migrations.context_schemas import physical_schema

revision: str = "0029_identity_registration"
down_revision: str | None = "0028_claims_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_PER_EVENT_TYPE_AND_CHANNEL = "uq_notification_templates_event_type_channel"


def _qualified(schema: str | None, table: str) -> str:
    return f'"{schema}".{table}' if schema else table


def upgrade() -> None:
    identity = physical_schema("identity")
    op.add_column("users", sa.Column("phone", sa.String(length=20), nullable=True), schema=identity)
    op.add_column("auth_sessions", sa.Column("user_agent", sa.String(length=200), nullable=True), schema=identity)
    op.add_column(
        "auth_sessions", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True), schema=identity
    )
    op.execute(f"UPDATE {_qualified(identity, 'auth_sessions')} SET last_used_at = created_at")
    users = f"{identity}.users.id" if identity else "users.id"
    op.create_table(
        "email_verification_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], [users], name="fk_email_verification_tokens_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_email_verification_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_email_verification_tokens_token_hash"),
        schema=identity,
    )
    op.create_index("ix_email_verification_tokens_user_id", "email_verification_tokens", ["user_id"], schema=identity)

    notifications = physical_schema("notifications")
    op.add_column(
        "notification_templates", sa.Column("event_type", sa.String(length=100), nullable=True), schema=notifications
    )
    op.create_index(
        ONE_PER_EVENT_TYPE_AND_CHANNEL,
        "notification_templates",
        ["event_type", "channel"],
        unique=True,
        schema=notifications,
    )


def downgrade() -> None:
    """Templates added for other events go (the older code knows only the built-in kinds); so do pending
    self-registrations' tokens. Users, sessions and the built-in templates stay."""
    notifications = physical_schema("notifications")
    templates = _qualified(notifications, "notification_templates")
    op.drop_index(ONE_PER_EVENT_TYPE_AND_CHANNEL, "notification_templates", schema=notifications)
    op.execute(f"DELETE FROM {templates} WHERE event_type IS NOT NULL")
    _drop_column(notifications, "notification_templates", "event_type")

    identity = physical_schema("identity")
    op.drop_index("ix_email_verification_tokens_user_id", "email_verification_tokens", schema=identity)
    op.drop_table("email_verification_tokens", schema=identity)
    _drop_column(identity, "auth_sessions", "last_used_at")
    _drop_column(identity, "auth_sessions", "user_agent")
    _drop_column(identity, "users", "phone")


def _drop_column(schema: str | None, table: str, column: str) -> None:
    if schema is None:  # SQLite (3.35+) drops a column in place, its CHECK constraints untouched
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column, schema=schema)
