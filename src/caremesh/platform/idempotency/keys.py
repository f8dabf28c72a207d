"""Idempotency-Keys: check one, claim it, store the final response under it, or release it for a retry.

A key is claimed by inserting its row; a concurrent request with the same key collides on the unique
constraint (`ON CONFLICT DO NOTHING` waits on PostgreSQL until the first transaction ends) and then
finds the row, locked. Rows live in the caller's unit of work: a request that fails before it
created anything rolls its claim back with everything else, so nothing is stored under the key.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform.db import dialect_insert
from caremesh.platform.errors import Conflict, DomainError, Unprocessable
from caremesh.platform.idempotency.models import IdempotencyKey
from caremesh.platform.uow import UnitOfWork

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Requests without an authenticated principal (none reach these routes today) share one key space.
SYSTEM_PRINCIPAL = uuid.UUID(int=0)

_KEY = re.compile(rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$")
KEY_PATTERN = _KEY.pattern


class State(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    RELEASED = "released"  # the attempt left nothing behind (gateway unavailable): the next request retries


class KeyProblem(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"


def key_problem(raw: str | None) -> KeyProblem | None:
    """What is wrong with an `Idempotency-Key` header: absent or blank, or not 1-255 printable ASCII characters."""
    if raw is None or not raw.strip():
        return KeyProblem.MISSING
    return None if _KEY.match(raw) else KeyProblem.INVALID


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """SHA-256 of the operation and its request in one canonical JSON form, so requests that mean the
    same (fields in any order) share a fingerprint and others do not."""
    canonical = json.dumps(
        {"operation": operation, "request": request}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_abandoned(claimed_at: datetime, now: datetime, after: timedelta | None) -> bool:
    """Whether an unfinished attempt may be taken over; never when `after` is None."""
    return after is not None and now - claimed_at >= after


class IdempotencyKeyInvalid(DomainError):
    status, code, title = 400, "IDEMPOTENCY_KEY_INVALID", "The Idempotency-Key header is not valid"


class IdempotencyKeyReused(Unprocessable):
    code, title = "IDEMPOTENCY_KEY_REUSED", "The Idempotency-Key was used with a different request"


class IdempotencyRequestInProgress(Conflict):
    code, title = "IDEMPOTENCY_REQUEST_IN_PROGRESS", "A request with this Idempotency-Key is still in progress"


@dataclass(frozen=True)
class Claimed:
    """This request owns the key's current attempt. `resumed`: an abandoned attempt is taken over,
    and what it created (`row.resource_id`) is still pending."""

    row: IdempotencyKey
    resumed: bool


@dataclass(frozen=True)
class Finished:
    row: IdempotencyKey


@dataclass(frozen=True)
class Busy:
    """Another request holds the key; wait for it until `abandoned_at` at the latest."""

    row_id: uuid.UUID
    attempt: int
    abandoned_at: datetime


def _principal(uow: UnitOfWork) -> uuid.UUID:
    return uow.actor.user_id if uow.actor is not None else SYSTEM_PRINCIPAL


async def claim(
    uow: UnitOfWork, scope: str, key: str, fingerprint: str, *, abandoned_after: timedelta | None
) -> Claimed | Finished | Busy:
    """Claim `key` for this request. `abandoned_after`: how old an unfinished attempt must be before it is
    taken over; None when attempts never outlive their transaction (then no other request sees one)."""
    session, now, principal_id = uow.session, uow.now(), _principal(uow)
    insert = dialect_insert(session)
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(
            id=uuid.uuid4(),
            scope=scope,
            principal_id=principal_id,
            key=key,
            fingerprint=fingerprint,
            state=State.IN_PROGRESS,
            attempt=1,
            created_at=now,
            claimed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["scope", "principal_id", "key"])
        .returning(IdempotencyKey.id)
    )
    row = await session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.principal_id == principal_id, IdempotencyKey.key == key)
        .with_for_update()
    )
    assert row is not None
    if inserted is not None:
        return Claimed(row, resumed=False)
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first sent with a different request; use a new key for a new request."
        )
    if row.state == State.COMPLETED:
        return Finished(row)
    if row.state == State.RELEASED:
        _take(row, now)
        return Claimed(row, resumed=False)
    if is_abandoned(row.claimed_at, now, abandoned_after):
        _take(row, now)
        return Claimed(row, resumed=row.resource_id is not None)
    return Busy(row.id, row.attempt, row.claimed_at + (abandoned_after or timedelta(0)))


def _take(row: IdempotencyKey, now: datetime) -> None:
    row.state = State.IN_PROGRESS
    row.attempt += 1
    row.claimed_at = now


async def take_over(uow: UnitOfWork, row_id: uuid.UUID, *, abandoned_after: timedelta) -> IdempotencyKey | None:
    """Claim an abandoned attempt for the background resolver, as a retry with its key would (under the row's
    lock): None when it is no longer abandoned, i.e. finished, released or already taken over."""
    row = await lock(uow, row_id)
    now = uow.now()
    if row.state != State.IN_PROGRESS or row.resource_id is None:
        return None
    if not is_abandoned(row.claimed_at, now, abandoned_after):
        return None
    _take(row, now)
    return row


async def abandoned(session: AsyncSession, scope: str, claimed_before: datetime, *, limit: int) -> list[uuid.UUID]:
    """Ids of keys whose unfinished attempt was claimed at or before `claimed_before`, oldest first."""
    rows = await session.scalars(
        select(IdempotencyKey.id)
        .where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.state == State.IN_PROGRESS,
            IdempotencyKey.resource_id.is_not(None),
            IdempotencyKey.claimed_at <= claimed_before,
        )
        .order_by(IdempotencyKey.claimed_at, IdempotencyKey.id)
        .limit(limit)
    )
    return list(rows)


async def lock(uow: UnitOfWork, row_id: uuid.UUID) -> IdempotencyKey:
    row = await uow.session.get(IdempotencyKey, row_id, with_for_update=True, populate_existing=True)
    assert row is not None  # key rows are never deleted
    return row


def complete(uow: UnitOfWork, row: IdempotencyKey, status: int, body: dict[str, Any]) -> None:
    row.state = State.COMPLETED
    row.response_status, row.response_body = status, body
    row.completed_at = uow.now()


def complete_as_sent(
    uow: UnitOfWork, row: IdempotencyKey, status: int, text: str, headers: list[tuple[str, str]]
) -> None:
    """Store a response as it was sent: its status, its body's text and its headers."""
    row.state = State.COMPLETED
    row.response_status, row.response_text = status, text
    row.response_headers = [[name, value] for name, value in headers]
    row.completed_at = uow.now()


def release(row: IdempotencyKey) -> None:
    row.state = State.RELEASED
    row.resource_id = None


async def still_busy(session: AsyncSession, busy: Busy) -> bool:
    """Whether the attempt `busy` saw is still unfinished (read outside any write transaction)."""
    row = await session.get(IdempotencyKey, busy.row_id, populate_existing=True)
    return row is not None and row.state == State.IN_PROGRESS and row.attempt == busy.attempt


async def prune(session: AsyncSession, *, before: datetime) -> int:
    """Forget keys claimed before `before` whose outcome is settled; unfinished attempts are kept."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.state != State.IN_PROGRESS, IdempotencyKey.created_at < before)
    )
    return result.rowcount
