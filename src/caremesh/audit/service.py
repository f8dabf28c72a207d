"""The hash chain: each event's hash is SHA-256 over the previous hash and the event itself."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from caremesh.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.timeutil import format_utc
from caremesh.platform.uow import UnitOfWork

_PENDING = "audit.pending"
VERIFY_BATCH = 1000


@dataclass(frozen=True)
class StagedEvent:
    action: str
    entity_type: str
    entity_id: str | None
    actor_id: uuid.UUID | None
    at: datetime


def event_digest(
    prev_hash: str,
    *,
    seq: int,
    id: uuid.UUID,
    at: datetime,
    actor_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    request_id: str | None,
    ip: str | None,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "id": str(id),
            "at": format_utc(at),
            "actor_id": str(actor_id) if actor_id else None,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "request_id": request_id,
            "ip": ip,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def digest_of(event: AuditEvent, prev_hash: str) -> str:
    return event_digest(
        prev_hash,
        seq=event.seq,
        id=event.id,
        at=event.at,
        actor_id=event.actor_id,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        request_id=event.request_id,
        ip=event.ip,
    )


def stage(uow: UnitOfWork, action: str, entity_type: str, entity_id: str | None, actor_id: uuid.UUID | None) -> None:
    actor = actor_id or (uow.actor.user_id if uow.actor else None)
    uow.state.setdefault(_PENDING, []).append(StagedEvent(action, entity_type, entity_id, actor, uow.now()))
    uow.before_commit(_PENDING, append_staged)


async def append_staged(uow: UnitOfWork) -> None:
    """Chain the staged events under the head row's lock, as the last step before commit."""
    staged: list[StagedEvent] = uow.state.pop(_PENDING, [])
    if not staged:
        return
    session = uow.session
    head = await session.scalar(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    if head is None:
        head = AuditChainHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        session.add(head)
    seq, prev = head.last_seq, head.last_hash
    for item in staged:
        seq += 1
        event = AuditEvent(
            seq=seq,
            id=uuid.uuid4(),
            at=item.at,
            actor_id=item.actor_id,
            action=item.action,
            entity_type=item.entity_type,
            entity_id=item.entity_id,
            request_id=uow.request_id,
            ip=uow.ip,
            prev_hash=prev,
        )
        event.hash = digest_of(event, prev)
        session.add(event)
        prev = event.hash
    head.last_seq, head.last_hash = seq, prev
    await session.flush()


async def list_events(
    uow: UnitOfWork, *, entity_type: str | None, entity_id: str | None, actor_id: uuid.UUID | None, page: PageParams
) -> tuple[list[AuditEvent], str | None]:
    query = select(AuditEvent)
    if entity_type:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEvent.entity_id == entity_id)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    return await paginate(uow.session, query, order_by=[AuditEvent.seq], params=page)


@dataclass(frozen=True)
class Verification:
    valid: bool
    count: int
    first_broken_id: uuid.UUID | None


async def verify_chain(uow: UnitOfWork) -> Verification:
    """Walk the chain in order; the first event whose link or hash does not hold breaks it.
    A missing event shows as a gap in `seq`."""
    prev, expected_seq, count, after = GENESIS_HASH, 1, 0, 0
    while True:
        batch = (
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(VERIFY_BATCH)
            )
        ).all()
        if not batch:
            head = await uow.session.get(AuditChainHead, 1)
            # Events cut off the end leave the head ahead of the chain.
            intact = (head is None and count == 0) or (head is not None and head.last_seq == count)
            return Verification(intact, count, None)
        for event in batch:
            if event.seq != expected_seq or event.prev_hash != prev or event.hash != digest_of(event, prev):
                return Verification(False, count, event.id)
            prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
        after = batch[-1].seq
