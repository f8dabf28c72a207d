"""Tables of notifications: the messages (one per event and channel) and the editable templates."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base, UTCDateTime, new_id

# A redelivered event never makes a second message, whichever path it comes by.
ONE_PER_EVENT_AND_CHANNEL = "uq_notifications_source_event_id_channel"


class Notification(Base):
    """A message to one recipient on one channel. `recipient`, `body` and `secret` are personal data:
    never log them.

    `attempts` counts send attempts; a queued message is due at `next_attempt_at`. A sender claims it by
    setting `lease_until` (and counting the attempt); nobody else sends it until the lease runs out.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("source_event_id", "channel"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_recipient_created", "recipient_id", "created_at", "id"),
        Index("ix_notifications_created", "created_at", "id"),
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("status <> 'queued' OR next_attempt_at IS NOT NULL", name="queued_is_due_sometime"),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_sent_at"),
        CheckConstraint("channel <> 'sms' OR subject IS NULL", name="sms_has_no_subject"),
        CheckConstraint("status = 'queued' OR secret IS NULL", name="secret_only_while_queued"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    # The patient the message is for; None for a message sent by hand to an address.
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    template: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # A secret the body shows as domain.SECRET_PLACEHOLDER (a password reset token): put in when sending,
    # cleared once the message is sent or failed, so `body` never holds it and this holds it no longer.
    secret: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# One added template per event type and channel: an event makes at most one message per channel.
ONE_PER_EVENT_TYPE_AND_CHANNEL = "uq_notification_templates_event_type_channel"


class NotificationTemplate(Base):
    """A template per event type and channel: the built-in kinds' (code `<kind>.<channel>`, see catalogue.KINDS) and
    those added for any other published event (`POST /notification-templates`, a code of the author's choosing)."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        Index(ONE_PER_EVENT_TYPE_AND_CHANNEL, "event_type", "channel", unique=True),
        CheckConstraint("channel IN ('email', 'sms')", name="channel_known"),
        CheckConstraint("channel <> 'email' OR subject IS NOT NULL", name="email_has_subject"),
        CheckConstraint("channel <> 'sms' OR subject IS NULL", name="sms_has_no_subject"),
    )

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The event a template added by POST answers; None for a built-in kind's (its code names the kind, and the kind
    # its event: triggers.KIND_EVENTS).
    event_type: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
