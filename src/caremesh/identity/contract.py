"""What other parts may use of identity: turning a verified token into a principal; whether a user exists."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.identity.events import (
    EMAIL_VERIFICATION_REQUESTED,
    PASSWORD_RESET_REQUESTED,
    EmailVerificationRequested,
    PasswordResetRequested,
)
from caremesh.identity.models import AuthSession, User
from caremesh.platform.security import Principal

__all__ = [
    "EMAIL_VERIFICATION_REQUESTED",
    "PASSWORD_RESET_REQUESTED",
    "EmailVerificationRequested",
    "PasswordResetRequested",
    "load_principal",
    "user_exists",
]


# Built once: every authenticated request runs it, and building a statement (and its cache key) costs as much
# as running it.
_LIVE_PRINCIPAL = (
    select(User.roles, User.patient_id, User.practitioner_id)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        User.is_active.is_(True),
    )
)


async def load_principal(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> Principal | None:
    """The principal behind an access token, while its session is live and its user active.
    Roles are read fresh, so a role change or a logout takes effect at once."""
    row = (await session.execute(_LIVE_PRINCIPAL, {"user_id": user_id, "session_id": session_id})).first()
    if row is None:
        return None
    roles, patient_id, practitioner_id = row
    return Principal(
        user_id=user_id,
        roles=frozenset(roles),
        session_id=session_id,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
    )


async def user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Whether this user account exists (active or disabled: a disabled account may be enabled again)."""
    return bool(await session.scalar(select(select(User.id).where(User.id == user_id).exists())))
