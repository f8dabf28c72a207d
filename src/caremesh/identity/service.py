"""Use cases of identity. They flush; the entrypoint commits."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.identity.domain import (
    LockoutPolicy,
    new_secret_token,
    password_problems,
    record_failure,
    token_digest,
)
from caremesh.identity.events import PasswordResetRequested
from caremesh.identity.models import AuthSession, PasswordResetToken, RefreshToken, User
from caremesh.identity.schemas import TokenPair, UserCreate, UserUpdate
from caremesh.patients import contract as patients
from caremesh.platform.db import serialise
from caremesh.platform.errors import (
    Conflict,
    DomainError,
    NotFound,
    Unauthenticated,
    invalid_field,
)
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.repository import Repository
from caremesh.platform.security import Principal, TokenSigner
from caremesh.platform.settings import SecuritySettings
from caremesh.platform.uow import UnitOfWork
from caremesh.practitioners import contract as practitioners

log = structlog.get_logger("caremesh.identity")


class InvalidCredentials(Unauthenticated):
    code, title = "INVALID_CREDENTIALS", "Wrong email or password"
    keeps_side_effects = True  # the failure counts towards the lockout


class AccountLocked(DomainError):
    status, code, title = 423, "ACCOUNT_LOCKED", "The account is locked after repeated failed logins"
    keeps_side_effects = True


class InvalidRefreshToken(Unauthenticated):
    code, title = "INVALID_REFRESH_TOKEN", "The refresh token is not valid"


class RefreshTokenReused(InvalidRefreshToken):
    keeps_side_effects = True  # the session stays revoked


class InvalidResetToken(DomainError):
    status, code, title = 400, "INVALID_RESET_TOKEN", "The password reset token is not valid"


class WrongCurrentPassword(DomainError):
    status, code, title = 422, "INVALID_CURRENT_PASSWORD", "The current password is wrong"
    keeps_side_effects = True  # the failure counts towards the lockout

    def __init__(self) -> None:
        super().__init__(extra={"errors": [{"loc": ["current_password"], "msg": "is wrong"}]})


class EmailTaken(Conflict):
    code, title = "EMAIL_TAKEN", "A user with this email exists"


class UserNotFound(NotFound):
    code, title = "USER_NOT_FOUND", "User not found"


class LastAdmin(Conflict):
    code, title = "LAST_ADMIN", "The last active admin cannot be demoted or disabled"


def check_password_policy(password: str, email: str | None, field: str = "password") -> None:
    problems = password_problems(password, email)
    if problems:
        raise invalid_field(field, "; ".join(problems), code="WEAK_PASSWORD")


def normalise_email(email: str) -> str:
    return email.strip().lower()


USER_AGENT_MAX = 200  # characters of a client's User-Agent kept on its session


def user_agent_of(header: str | None) -> str | None:
    """What a session keeps of the client's User-Agent: printable, at most USER_AGENT_MAX characters."""
    if not header:
        return None
    printable = "".join(char for char in header if char.isprintable()).strip()
    return printable[:USER_AGENT_MAX] or None


@dataclass
class Authenticator:
    """Identity's collaborators that come from settings: hashing cost, token lifetimes, lockout."""

    settings: SecuritySettings
    signer: TokenSigner

    def __post_init__(self) -> None:
        self.hasher = PasswordHasher(
            time_cost=self.settings.argon2_time_cost,
            memory_cost=self.settings.argon2_memory_kib,
            parallelism=self.settings.argon2_parallelism,
        )
        self.lockout = LockoutPolicy(
            threshold=self.settings.lockout_threshold,
            window=timedelta(seconds=self.settings.lockout_window_seconds),
            duration=timedelta(seconds=self.settings.lockout_duration_seconds),
        )
        self._decoy_hash = self.hasher.hash(new_secret_token())

    async def hash_password(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify_password(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self.hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(verify)

    # --- sessions and tokens -------------------------------------------------------------

    async def _issue(self, uow: UnitOfWork, user: User, session: AuthSession) -> TokenPair:
        now = uow.now()
        session.last_used_at = now
        raw = new_secret_token()
        uow.session.add(
            RefreshToken(
                session_id=session.id,
                token_hash=token_digest(raw),
                issued_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_seconds),
            )
        )
        await uow.session.flush()
        access = self.signer.issue_access_token(user_id=user.id, session_id=session.id, roles=user.roles, now=now)
        return TokenPair(access_token=access, refresh_token=raw, expires_in=self.signer.access_ttl_seconds)

    async def _stored_hash(self, uow: UnitOfWork, user_id: uuid.UUID | None, email: str | None = None) -> str | None:
        async with uow.read_session() as reader:
            query = select(User.password_hash)
            query = query.where(User.id == user_id) if user_id else query.where(User.email == email)
            return await reader.scalar(query)

    async def _count_failure(self, uow: UnitOfWork, user: User, action: str) -> None:
        """A wrong password for `user`: towards the lockout, and audited. Written without touching the
        user's version, so an admin's pending edit (If-Match) is not spoiled by someone's typo."""
        now = uow.now()
        recent = [datetime.fromisoformat(at) for at in user.recent_login_failures or []]
        failure = record_failure(self.lockout, now, recent)
        await uow.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                recent_login_failures=[at.isoformat() for at in failure.recent_failures],
                locked_until=failure.locked_until,
            )
            .execution_options(synchronize_session=False)
        )
        audit.record(uow, action, "user", user.id, actor_id=user.id)
        if failure.locked_until:
            audit.record(uow, "auth.account_locked", "user", user.id, actor_id=user.id)
            log.warning("account_locked", user_id=str(user.id))

    def _refuse_if_locked(self, uow: UnitOfWork, user: User) -> None:
        now = uow.now()
        if user.locked_until and user.locked_until > now:
            audit.record(uow, "auth.login_refused_locked", "user", user.id, actor_id=user.id)
            retry = int((user.locked_until - now).total_seconds()) + 1
            raise AccountLocked(headers={"Retry-After": str(retry)})

    async def login(self, uow: UnitOfWork, email: str, password: str, user_agent: str | None = None) -> TokenPair:
        email = normalise_email(email)
        # Argon2 runs before the write transaction: on SQLite that transaction holds the only write lock.
        stored = await self._stored_hash(uow, None, email)
        verified = await self.verify_password(stored or self._decoy_hash, password)
        user = await uow.session.scalar(select(User).where(User.email == email).with_for_update())
        if user is None:
            audit.record(uow, "auth.login_failed", "user", None)
            raise InvalidCredentials()
        self._refuse_if_locked(uow, user)
        if not verified or user.password_hash != stored or not user.is_active:
            await self._count_failure(uow, user, "auth.login_failed")
            raise InvalidCredentials()
        if user.recent_login_failures or user.locked_until:
            await uow.session.execute(
                update(User)
                .where(User.id == user.id)
                .values(recent_login_failures=[], locked_until=None)
                .execution_options(synchronize_session=False)
            )
        if self.hasher.check_needs_rehash(user.password_hash):
            user.password_hash = await self.hash_password(password)
        session = AuthSession(user_id=user.id, created_at=uow.now(), ip=uow.ip, user_agent=user_agent_of(user_agent))
        uow.session.add(session)
        await uow.session.flush()
        audit.record(uow, "auth.login_succeeded", "user", user.id, actor_id=user.id)
        return await self._issue(uow, user, session)

    async def refresh(self, uow: UnitOfWork, raw_token: str) -> TokenPair:
        now = uow.now()
        token = await uow.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_digest(raw_token)).with_for_update()
        )
        if token is None:
            raise InvalidRefreshToken()
        session = await uow.session.get(AuthSession, token.session_id, with_for_update=True)
        user = await uow.session.get(User, session.user_id) if session else None
        if session is None or user is None or session.revoked_at is not None or not user.is_active:
            raise InvalidRefreshToken("The session has ended.")
        if token.used_at is not None:
            session.revoked_at, session.revoked_reason = now, "refresh_token_reuse"
            audit.record(uow, "auth.refresh_token_reused", "session", session.id, actor_id=user.id)
            log.warning("refresh_token_reused", session_id=str(session.id))
            await uow.session.flush()
            raise RefreshTokenReused("This refresh token was already used; the session is revoked.")
        if token.expires_at <= now:
            raise InvalidRefreshToken("The refresh token has expired.")
        token.used_at = now
        audit.record(uow, "auth.token_refreshed", "session", session.id, actor_id=user.id)
        return await self._issue(uow, user, session)

    async def logout(self, uow: UnitOfWork, principal: Principal) -> None:
        if principal.session_id:
            await revoke_sessions(uow, principal.user_id, "logout", only=principal.session_id)
        audit.record(uow, "auth.logout", "session", principal.session_id)

    async def change_password(self, uow: UnitOfWork, principal: Principal, current: str, new: str) -> None:
        stored = await self._stored_hash(uow, principal.user_id)
        verified = stored is not None and await self.verify_password(stored, current)
        new_hash = await self.hash_password(new) if verified and new != current else None
        user = await uow.session.get(User, principal.user_id, with_for_update=True)
        if user is None:
            raise WrongCurrentPassword()
        self._refuse_if_locked(uow, user)
        if not verified or user.password_hash != stored:
            # Guessing here counts like guessing at login: a stolen access token gives no free tries.
            await self._count_failure(uow, user, "auth.password_change_failed")
            raise WrongCurrentPassword()
        check_password_policy(new, user.email, "new_password")
        if new_hash is None:
            raise invalid_field("new_password", "must differ from the current password", code="WEAK_PASSWORD")
        user.password_hash = new_hash
        user.password_changed_at = user.updated_at = uow.now()
        await revoke_sessions(uow, user.id, "password_changed", keep=principal.session_id)
        await _void_reset_tokens(uow, user.id)
        audit.record(uow, "auth.password_changed", "user", user.id)

    async def request_password_reset(self, uow: UnitOfWork, email: str) -> None:
        now = uow.now()
        user = await uow.session.scalar(select(User).where(User.email == normalise_email(email)))
        audit.record(
            uow, "auth.password_reset_requested", "user", user.id if user else None, actor_id=user.id if user else None
        )
        if user is None or not user.is_active:
            return
        raw = new_secret_token()
        expires_at = now + timedelta(seconds=self.settings.password_reset_ttl_seconds)
        uow.session.add(
            PasswordResetToken(user_id=user.id, token_hash=token_digest(raw), created_at=now, expires_at=expires_at)
        )
        await uow.session.flush()
        uow.publish(PasswordResetRequested(user_id=user.id, email=user.email, reset_token=raw, expires_at=expires_at))

    async def confirm_password_reset(self, uow: UnitOfWork, raw_token: str, new_password: str) -> None:
        async with uow.read_session() as reader:
            email = await reader.scalar(
                select(User.email)
                .join(PasswordResetToken, PasswordResetToken.user_id == User.id)
                .where(PasswordResetToken.token_hash == token_digest(raw_token))
            )
        if email is None:
            raise InvalidResetToken()
        check_password_policy(new_password, email, "new_password")
        new_hash = await self.hash_password(new_password)  # before the write transaction
        now = uow.now()
        reset = await uow.session.scalar(
            select(PasswordResetToken).where(PasswordResetToken.token_hash == token_digest(raw_token)).with_for_update()
        )
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise InvalidResetToken()
        user = await uow.session.get(User, reset.user_id, with_for_update=True)
        if user is None or not user.is_active:
            raise InvalidResetToken()
        user.password_hash = new_hash
        user.password_changed_at = user.updated_at = now
        user.recent_login_failures, user.locked_until = [], None
        await revoke_sessions(uow, user.id, "password_reset")
        await _void_reset_tokens(uow, user.id)  # this one and any other still outstanding
        audit.record(uow, "auth.password_reset", "user", user.id, actor_id=user.id)

    # --- users ------------------------------------------------------------------------------

    async def create_user(self, uow: UnitOfWork, data: UserCreate) -> User:
        email = normalise_email(str(data.email))
        check_password_policy(data.password, email)
        password_hash = await self.hash_password(data.password)  # before the write transaction
        await _check_links(uow, data.roles, data.patient_id, data.practitioner_id)
        if await uow.session.scalar(select(User.id).where(User.email == email)):
            raise EmailTaken()
        now = uow.now()
        user = User(
            id=uuid.uuid4(),
            email=email,
            password_hash=password_hash,
            full_name=data.full_name,
            roles=list(data.roles),
            patient_id=data.patient_id,
            practitioner_id=data.practitioner_id,
            is_active=True,
            recent_login_failures=[],
            password_changed_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(user)
        try:
            async with uow.session.begin_nested():
                await uow.session.flush()
        except IntegrityError as error:
            raise EmailTaken() from error
        audit.record(uow, "user.create", "user", user.id)
        return user


async def _check_links(
    uow: UnitOfWork, roles: list[str], patient_id: uuid.UUID | None, practitioner_id: uuid.UUID | None
) -> None:
    if "patient" in roles and patient_id is None:
        raise invalid_field("patient_id", "is required for the patient role")
    # The owners' errors, with the title and detail this answer has always had.
    if patient_id and await patients.find_patient(uow.session, patient_id) is None:
        raise patients.PatientNotFound("No such patient.", title=NotFound.title)
    if practitioner_id and await practitioners.find_practitioner(uow.session, practitioner_id) is None:
        raise practitioners.PractitionerNotFound("No such practitioner.", title=NotFound.title)


async def revoke_sessions(
    uow: UnitOfWork, user_id: uuid.UUID, reason: str, *, only: uuid.UUID | None = None, keep: uuid.UUID | None = None
) -> None:
    query = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=uow.now(), revoked_reason=reason)
    )
    if only:
        query = query.where(AuthSession.id == only)
    if keep:
        query = query.where(AuthSession.id != keep)
    await uow.session.execute(query)


async def _void_reset_tokens(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    await uow.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=uow.now())
    )


# Users are not owned by a patient; only admins reach them (users:manage).
USERS: Repository[User] = audit.repository(User, UserNotFound, entity="user")


async def get_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    return await USERS.load(uow, user_id)  # not audited, as before


async def list_users(uow: UnitOfWork, page: PageParams) -> tuple[list[User], str | None]:
    return await paginate(uow.session, USERS.query(uow), order_by=[User.created_at, User.id], params=page)


async def update_user(uow: UnitOfWork, user_id: uuid.UUID, data: UserUpdate, expected_version: int | None) -> User:
    if data.roles is not None or data.active is not None:
        # Lock every active user, in id order, before the last-admin check: two admins demoting each
        # other at once must not both see the other still in place (and cannot deadlock).
        await uow.session.execute(select(User.id).where(User.is_active.is_(True)).order_by(User.id).with_for_update())
    user = await USERS.load_version(uow, user_id, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    roles = changes.get("roles", user.roles)
    active = changes.get("active", user.is_active)
    if "admin" in user.roles and user.is_active and ("admin" not in roles or not active):
        active_users = (
            await uow.session.scalars(select(User).where(User.is_active.is_(True), User.id != user.id))
        ).all()
        if not any("admin" in other.roles for other in active_users):
            raise LastAdmin()
    if "roles" in changes:
        await _check_links(uow, roles, user.patient_id, user.practitioner_id)
        user.roles = roles
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if "active" in changes:
        user.is_active = active
        if not active:
            await revoke_sessions(uow, user.id, "user_disabled")
    if changes:
        user.updated_at = uow.now()
        await uow.session.flush()
    audit.record(uow, "user.update", "user", user.id)
    return user


async def bootstrap_admin(uow: UnitOfWork, settings: SecuritySettings, authenticator: Authenticator) -> User | None:
    """First start: create the admin named in settings when no user exists yet. Processes starting at once
    take turns here, so exactly one creates it, whatever admin each was configured with."""
    if not (settings.admin_email and settings.admin_password):
        return None
    await serialise(uow.session, "identity.bootstrap_admin")
    if await uow.session.scalar(select(func.count()).select_from(User)):
        return None
    user = await authenticator.create_user(
        uow,
        UserCreate(
            email=settings.admin_email, password=settings.admin_password, full_name="Administrator", roles=["admin"]
        ),
    )
    log.info("admin_bootstrapped", user_id=str(user.id))
    return user
