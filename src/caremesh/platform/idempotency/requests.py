"""Idempotency-Key for any POST of a TransactionalRoute: claimed, stored and replayed in the request's one
unit of work.

The key is claimed before the operation runs and its response is stored before the same transaction
commits, so no other request ever sees a claimed but unfinished key: a concurrent request with the key
waits on the claim (PostgreSQL: `INSERT ... ON CONFLICT` blocks until the first transaction ends; SQLite:
write transactions are serial) and then replays the stored response. A request that fails rolls its
claim back with everything else, so a corrected retry may use the same key (as payments do). An error
whose writes commit anyway (`keeps_side_effects`) is stored like any response.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from caremesh.platform.errors import DomainError, problem
from caremesh.platform.idempotency import keys
from caremesh.platform.idempotency.keys import Busy, Finished, IdempotencyKeyInvalid
from caremesh.platform.idempotency.models import IdempotencyKey
from caremesh.platform.uow import UnitOfWork

HEADER_DESCRIPTION = (
    "Optional. 1-255 printable ASCII characters, unique per operation you mean to perform. A retry with the "
    "same key and request answers the first response again (`Idempotent-Replayed: true`) and does nothing "
    "more; the same key with another request is 422 IDEMPOTENCY_KEY_REUSED. Keys are per user and operation."
)
# Headers a replay does not repeat: recomputed, or never to be stored.
_NOT_STORED = {"content-length", "set-cookie"}
_STATE = "caremesh_idempotency_key"

ReplayRecorder = Callable[[UnitOfWork, uuid.UUID], None]


class Replayed(DomainError):
    """Ends a request whose key already holds a response; commits what the replay recorded (its audit)."""

    keeps_side_effects = True

    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


def scope_of(request: Request) -> str:
    """The operation: method and route template (`POST /api/v1/orders/{order_id}/cancel`)."""
    return f"{request.method} {request.scope['caremesh.route']}"


async def request_fingerprint(request: Request) -> str:
    """The request as its operation sees it: path parameters, query, If-Match and the body (JSON in a
    canonical form, so the order of fields does not matter; other bodies byte for byte). Keyed with the
    server's secret: bodies hold passwords (new users) and patient details, and a plain hash of them
    would let anyone who reads the table test guesses."""
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = {"bytes": raw.hex()}
    canonical = {
        "operation": scope_of(request),
        "path": {name: str(value) for name, value in request.path_params.items()},
        "query": sorted(request.query_params.multi_items()),
        "if_match": request.headers.get("if-match"),
        "body": body,
    }
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return request.app.state.token_signer.digest("idempotency-key-fingerprint", data)


async def claim(request: Request, uow: UnitOfWork, key: str, on_replay: ReplayRecorder | None) -> None:
    """Claim `key` for this request, or end it with the stored response (`Replayed`)."""
    if keys.key_problem(key) is not None:
        raise IdempotencyKeyInvalid(
            f"An Idempotency-Key is 1 to {keys.MAX_KEY_LENGTH} printable ASCII characters, not only spaces."
        )
    outcome = await keys.claim(uow, scope_of(request), key, await request_fingerprint(request), abandoned_after=None)
    if isinstance(outcome, Finished):
        if on_replay is not None:
            on_replay(uow, outcome.row.id)
        raise Replayed(replay(outcome.row))
    if isinstance(outcome, Busy):  # a claim never commits unfinished; kept for safety
        raise keys.IdempotencyRequestInProgress(
            "Another request with this Idempotency-Key has not finished; retry shortly.",
            headers={"Retry-After": "1"},
        )
    setattr(request.state, _STATE, outcome.row)


def claimed(request: Request) -> IdempotencyKey | None:
    return getattr(request.state, _STATE, None)


def store(uow: UnitOfWork, row: IdempotencyKey, response: Response) -> None:
    """Keep `response` under the key, as it is about to be sent."""
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        raise TypeError("a response to an idempotent request must have its body in memory (not streamed)")
    headers = [(name, value) for name, value in response.headers.items() if name.lower() not in _NOT_STORED]
    keys.complete_as_sent(uow, row, response.status_code, body.decode(), headers)


def store_error(uow: UnitOfWork, row: IdempotencyKey, error: DomainError) -> None:
    """An error whose writes commit is the request's outcome: a retry answers it again."""
    store(uow, row, problem(error.status, error.code, error.title, error.detail, headers=error.headers, **error.extra))


def replay(row: IdempotencyKey) -> Response:
    """The stored response, byte for byte, with `Idempotent-Replayed: true`."""
    assert row.response_status is not None
    assert row.response_text is not None, "a generic key holds the response as sent"
    response = Response(content=row.response_text.encode(), status_code=row.response_status)
    for name, value in row.response_headers or []:
        response.headers.append(name, value)
    response.headers[keys.REPLAYED_HEADER] = "true"
    return response
