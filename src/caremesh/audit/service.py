"""Recording audit events (unsealed, inserted with the transaction that records them), listing them in chain order,
and verifying the chain the sealer (`sealer.py`) builds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select

from caremesh.audit.domain import GENESIS_HASH, chained_digest, event_digest
from caremesh.audit.models import AuditChainHead, AuditEvent
from caremesh.audit.schemas import AuditEventFilters
from caremesh.audit.sealer import HEAD_ID, wake_sealers
from caremesh.platform.pagination import PageParams, decode_cursor, encode_cursor
from caremesh.platform.uow import UnitOfWork

__all__ = ["append_staged", "event_digest", "list_events", "stage", "verify_chain"]

_PENDING = "audit.pending"
_WAKING = "audit.waking"
VERIFY_BATCH = 1000


@dataclass(frozen=True)
class StagedEvent:
    action: str
    entity_type: str
    entity_id: str | None
    actor_id: uuid.UUID | None
    at: datetime


def stage(uow: UnitOfWork, action: str, entity_type: str, entity_id: str | None, actor_id: uuid.UUID | None) -> None:
    actor = actor_id or (uow.actor.user_id if uow.actor else None)
    uow.state.setdefault(_PENDING, []).append(StagedEvent(action, entity_type, entity_id, actor, uow.now()))
    uow.before_commit(_PENDING, append_staged)
    if not uow.state.get(_WAKING):
        uow.state[_WAKING] = True
        uow.after_commit(wake_sealers)


async def append_staged(uow: UnitOfWork) -> None:
    """Insert the staged events, unsealed, in the order they were recorded: no lock, no read of the chain."""
    staged: list[StagedEvent] = uow.state.pop(_PENDING, [])
    if not staged:
        return
    rows = [
        {
            "id": uuid.uuid4(),
            "at": item.at,
            "actor_id": item.actor_id,
            "action": item.action,
            "entity_type": item.entity_type,
            "entity_id": item.entity_id,
            "request_id": uow.request_id,
            "ip": uow.ip,
        }
        for item in staged
    ]
    await uow.session.execute(insert(AuditEvent), rows)


async def list_events(
    uow: UnitOfWork, filters: AuditEventFilters, page: PageParams
) -> tuple[list[AuditEvent], str | None]:
    """One page in chain order, the unsealed events last (by insertion position).

    The cursor is [the last seq shown, the last unsealed position shown or null]: events sealed while a client
    pages come after the seqs it has seen, and events it saw unsealed are not shown again once sealed."""
    # Each filter is a column of the same name; an empty one filters nothing.
    query = select(AuditEvent).where(
        *(getattr(AuditEvent, name) == value for name, value in filters.given().items() if value)
    )
    after_seq, after_position = 0, None
    if page.cursor:
        after_seq, after_position = decode_cursor(page.cursor, [AuditEvent.seq, AuditEvent.position])
        after_seq = after_seq or 0
    if after_position is not None:
        query = query.where(AuditEvent.position > after_position)
    wanted = page.limit + 1
    rows = await _all(uow, query.where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq).limit(wanted))
    if len(rows) < wanted:
        unsealed = query.where(AuditEvent.seq.is_(None)).order_by(AuditEvent.position)
        rows += await _all(uow, unsealed.limit(wanted - len(rows)))
    if len(rows) < wanted:
        return rows, None
    rows = rows[: page.limit]
    last_seq = max((row.seq for row in rows if row.seq is not None), default=after_seq)
    last_position = rows[-1].position if rows[-1].seq is None else after_position
    return rows, encode_cursor([last_seq, last_position])


async def _all(uow: UnitOfWork, query: Select[Any]) -> list[AuditEvent]:
    return list((await uow.session.scalars(query)).all())


@dataclass(frozen=True)
class Verification:
    valid: bool
    count: int
    first_broken_id: uuid.UUID | None
    unsealed: int


async def verify_chain(uow: UnitOfWork) -> Verification:
    """Walk the sealed events up to the head in chain order; the first whose seq, link or hash does not hold breaks
    the chain (a deleted event shows as a gap in `seq`, events cut off the end as a head ahead of the chain)."""
    session = uow.session
    # The head first: every event it covers committed with it, whatever the sealer does meanwhile.
    head = (
        await session.execute(
            select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == HEAD_ID)
        )
    ).one_or_none()
    last_seq, last_hash = head if head is not None else (0, GENESIS_HASH)
    unsealed = await session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None)))
    prev, count = GENESIS_HASH, 0
    while True:
        batch = await _all(
            uow,
            select(AuditEvent)
            .where(AuditEvent.seq > count, AuditEvent.seq <= last_seq)
            .order_by(AuditEvent.seq)
            .limit(VERIFY_BATCH),
        )
        if not batch:
            intact = count == last_seq and prev == last_hash
            return Verification(intact, count, None, unsealed or 0)
        for event in batch:
            seq = count + 1
            if event.seq != seq or event.prev_hash != prev or event.hash != chained_digest(event, seq, prev):
                return Verification(False, count, event.id, unsealed or 0)
            prev, count = event.hash, seq
