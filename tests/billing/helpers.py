"""Helpers of the billing suites: redelivering events, what a refused request must leave as it was."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from caremesh.platform.messaging.consumer import tables_of
from caremesh.platform.messaging.envelope import Envelope
from tests.harness import outbox_rows

CONSUMER = "billing"


async def published(env: Any, event_type: str) -> list[Envelope]:
    """The outbox events of one type, oldest first, as envelopes."""
    rows = await outbox_rows(env, event_type)
    return [
        Envelope(
            id=row.id,
            type=row.type,
            version=row.version,
            payload=row.payload,
            occurred_at=row.occurred_at,
            correlation_id=row.correlation_id,
            causation_id=row.causation_id,
        )
        for row in rows
    ]


async def deliver(env: Any, envelope: Envelope, *, fresh_id: bool = False) -> Envelope:
    """Queue `envelope` for billing's consumer again (the transport redelivers it), or as a new event
    with the same payload (`fresh_id`: a duplicate the inbox cannot recognise)."""
    if fresh_id:
        envelope = dataclasses.replace(envelope, id=uuid.uuid4())
    async with env.uow() as uow:
        uow.session.add(
            tables_of(CONSUMER).deliveries(
                consumer=CONSUMER,
                event_id=envelope.id,
                event_type=envelope.type,
                envelope=envelope.to_dict(),
                attempts=0,
                next_attempt_at=env.clock.now(),
            )
        )
    return envelope


async def billing_snapshot(env: Any) -> dict[str, Any]:
    """What a refused request must leave as it was."""
    return {
        "invoices": await env.count("invoices"),
        "versions": await env.count("invoices", "version > 1"),
        "void": await env.count("invoices", "status = 'void'"),
        "tariffs": await env.count("tariffs"),
        "tariff_versions": await env.count("tariffs", "version > 1"),
        "numbers": await env.count("number_sequences", "prefix = 'INV'"),
        "outbox": await env.outbox_types(),
    }
