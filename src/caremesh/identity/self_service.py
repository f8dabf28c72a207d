"""What a user does for themselves: their profile, their sessions, and (patients) signing up.

Self-registration (`CAREMESH_SELF_REGISTRATION`) creates an inactive `patient` user and a one-time verification
token (only its SHA-256 is stored) that travels to the address in `user.email_verification_requested`; confirming
it activates the user and registers their patient record through patients' contract, in one transaction.
Whether an address is taken never shows: the answer, and the Argon2 work done, are the same either way.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Select, select, update

from caremesh.audit import contract as audit
from caremesh.identity.domain import new_secret_token, token_digest
from caremesh.identity.events import EmailVerificationRequested
from caremesh.identity.models import AuthSession, EmailVerificationToken, User
from caremesh.identity.schemas import ProfileUpdate, RegistrationRequest
from caremesh.identity.service import (
    USERS,
    Authenticator,
    check_password_policy,
    normalise_email,
    revoke_sessions,
)
from caremesh.patients import contract as patients
from caremesh.platform.db import dialect_insert
from caremesh.platform.errors import DomainError, NotFound, invalid_field
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.schemas import changes_of
from caremesh.platform.security import Principal
from caremesh.platform.timeutil import clinic_date
from caremesh.platform.uow import UnitOfWork


class SessionNotFound(NotFound):
    code, title = "SESSION_NOT_FOUND", "Session not found"


class RegistrationClosed(NotFound):
    """Self-registration is off: the route answers as a path that does not exist would."""


class InvalidVerificationToken(DomainError):
    status, code, title = 400, "INVALID_VERIFICATION_TOKEN", "The email verification token is not valid"


# --- profile -------------------------------------------------------------------------------------


async def get_profile(uow: UnitOfWork, principal: Principal) -> User:
    return await USERS.load(uow, principal.user_id)


async def update_profile(
    uow: UnitOfWork, principal: Principal, data: ProfileUpdate, expected_version: int | None
) -> User:
    """One's own name and phone number (null clears it); recorded as `user.update`, the values never."""
    user = await USERS.load_version(uow, principal.user_id, expected_version)
    changes = {name: value for name, value in changes_of(data).items() if getattr(user, name) != value}
    for name, value in changes.items():
        setattr(user, name, value)
    await USERS.updated(uow, user, changes)
    return user


# --- sessions ------------------------------------------------------------------------------------


def _live_sessions(uow: UnitOfWork, user_id: uuid.UUID, refresh_ttl_seconds: int) -> Select[tuple[AuthSession]]:
    """The user's sessions that can still be used: not revoked, and their last refresh token not yet expired."""
    oldest_live = uow.now() - timedelta(seconds=refresh_ttl_seconds)
    return select(AuthSession).where(
        AuthSession.user_id == user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.last_used_at > oldest_live,
    )


async def list_sessions(
    uow: UnitOfWork, principal: Principal, page: PageParams, refresh_ttl_seconds: int
) -> tuple[list[AuthSession], str | None]:
    """One's own live sessions, oldest first; revoked and expired ones are not listed."""
    query = _live_sessions(uow, principal.user_id, refresh_ttl_seconds)
    return await paginate(uow.session, query, order_by=[AuthSession.created_at, AuthSession.id], params=page)


async def revoke_session(
    uow: UnitOfWork, principal: Principal, session_id: uuid.UUID, refresh_ttl_seconds: int
) -> None:
    """End one of one's own live sessions: its refresh tokens and access tokens stop working at once (both are
    checked against the session on every use). Another user's session, or one already ended, is not found."""
    live = _live_sessions(uow, principal.user_id, refresh_ttl_seconds).where(AuthSession.id == session_id)
    if await uow.session.scalar(live.with_for_update()) is None:
        raise SessionNotFound()
    await revoke_sessions(uow, principal.user_id, "revoked_by_user", only=session_id)
    audit.record(uow, "auth.session_revoked", "session", session_id)


# --- self-registration ---------------------------------------------------------------------------


def check_registration_open(uow: UnitOfWork) -> None:
    if not uow.settings.security.self_registration:
        raise RegistrationClosed()


async def register(uow: UnitOfWork, authn: Authenticator, data: RegistrationRequest) -> None:
    """Sign a patient up: an inactive `patient` user and a verification token sent to the address.

    A taken address changes nothing and sends nothing, after the same checks and the same password hashing; an
    address whose sign-up is still unconfirmed is signed up afresh (new password and details, a new token; the
    earlier tokens die), so a lost or expired email never locks its owner out."""
    email = normalise_email(str(data.email))
    check_password_policy(data.password, email)
    if data.date_of_birth > clinic_date(uow.now()):
        raise invalid_field("date_of_birth", "must not be in the future")
    password_hash = await authn.hash_password(data.password)  # either way, before the write transaction
    now = uow.now()
    full_name = f"{data.first_name} {data.last_name}"[:200]
    user = await uow.session.scalar(select(User).where(User.email == email).with_for_update())
    if user is not None:
        if not await _awaits_verification(uow, user):
            audit.record(uow, "auth.registration_ignored", "user", user.id)
            return
        user.password_hash, user.full_name = password_hash, full_name
        user.password_changed_at = user.updated_at = now
        await _void_verification_tokens(uow, user.id)
        user_id = user.id
    else:
        # A concurrent sign-up may take the address first: then this one is as if it were taken.
        user_id = await uow.session.scalar(
            dialect_insert(uow.session)(User)
            .values(
                id=uuid.uuid4(),
                email=email,
                password_hash=password_hash,
                full_name=full_name,
                roles=["patient"],
                is_active=False,
                recent_login_failures=[],
                password_changed_at=now,
                created_at=now,
                updated_at=now,
                version=1,
            )
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(User.id)
        )
        if user_id is None:
            audit.record(uow, "auth.registration_ignored", "user", None)
            return
    raw = new_secret_token()
    expires_at = now + timedelta(seconds=uow.settings.security.email_verification_ttl_seconds)
    uow.session.add(
        EmailVerificationToken(
            user_id=user_id,
            token_hash=token_digest(raw),
            first_name=data.first_name,
            last_name=data.last_name,
            date_of_birth=data.date_of_birth,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await uow.session.flush()
    uow.publish(EmailVerificationRequested(user_id=user_id, email=email, verification_token=raw, expires_at=expires_at))
    audit.record(uow, "auth.registered", "user", user_id)


async def _awaits_verification(uow: UnitOfWork, user: User) -> bool:
    """A self-registered user who never confirmed their address (an admin's users and confirmed ones are not)."""
    if user.is_active or user.patient_id is not None:
        return False
    signed_up = await uow.session.scalar(
        select(EmailVerificationToken.id).where(EmailVerificationToken.user_id == user.id).limit(1)
    )
    return signed_up is not None


async def _void_verification_tokens(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    await uow.session.execute(
        update(EmailVerificationToken)
        .where(EmailVerificationToken.user_id == user_id, EmailVerificationToken.used_at.is_(None))
        .values(used_at=uow.now())
        .execution_options(synchronize_session=False)
    )


async def verify_email(uow: UnitOfWork, raw_token: str) -> None:
    """Confirm a sign-up: the token is claimed by one conditional UPDATE (of concurrent confirmations exactly one
    wins, on either database), then the patient record is registered and linked and the user activated."""
    now = uow.now()
    digest = token_digest(raw_token)
    claimed = await uow.session.scalar(
        update(EmailVerificationToken)
        .where(
            EmailVerificationToken.token_hash == digest,
            EmailVerificationToken.used_at.is_(None),
            EmailVerificationToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(EmailVerificationToken.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        raise await _why_refused(uow, digest)
    token = await uow.session.get_one(EmailVerificationToken, claimed, populate_existing=True)
    user = await uow.session.get(User, token.user_id, with_for_update=True)
    if user is None or user.patient_id is not None:
        raise InvalidVerificationToken("The email address is already verified.")
    user.patient_id = await patients.register_patient(
        uow, first_name=token.first_name, last_name=token.last_name, date_of_birth=token.date_of_birth, email=user.email
    )
    user.is_active = True
    user.updated_at = now
    await _void_verification_tokens(uow, user.id)
    await uow.session.flush()
    audit.record(uow, "auth.email_verified", "user", user.id, actor_id=user.id)


async def _why_refused(uow: UnitOfWork, digest: str) -> InvalidVerificationToken:
    token = await uow.session.scalar(select(EmailVerificationToken).where(EmailVerificationToken.token_hash == digest))
    if token is None:
        return InvalidVerificationToken("The verification token is not valid.")
    if token.used_at is not None:
        return InvalidVerificationToken("The verification token was already used.")
    return InvalidVerificationToken("The verification token has expired; register again for a new one.")
