from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base, UTCDateTime, new_id


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_created", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    # E.164-like, set by the user on their profile; personal data: never log it.
    phone: Mapped[str | None] = mapped_column(String(20))
    roles: Mapped[list[str]] = mapped_column(JSON)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # ISO timestamps of failed logins still inside the lockout window (at most `threshold` of them).
    recent_login_failures: Mapped[list[str]] = mapped_column(JSON, default=list)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class AuthSession(Base):
    """A login. Its refresh tokens form one family; revoking the session kills them all,
    and the access tokens that name it."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    # The client that logged in (cut to USER_AGENT_MAX characters), and when the session last issued tokens (login
    # or refresh): a session is live until a refresh token issued then would have expired.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class _SingleUseToken:
    """A secret handed out once: only its SHA-256 is stored; it is good until `expires_at`, and `used_at` marks it
    dead."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RefreshToken(_SingleUseToken, Base):
    """One of a session's refresh tokens."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.auth_sessions.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PasswordResetToken(_SingleUseToken, Base):
    __tablename__ = "password_reset_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailVerificationToken(_SingleUseToken, Base):
    """A self-registration waiting for its email address to be confirmed: what the patient record will be made
    of once it is (names and date of birth are personal data: never log them)."""

    __tablename__ = "email_verification_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("identity.users.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
