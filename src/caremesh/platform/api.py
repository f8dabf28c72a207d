"""HTTP plumbing every context's router uses: the transactional route, the unit of work, auth, and the
Idempotency-Key that every POST honours."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, ClassVar, TypeVar, get_args, get_type_hints

from fastapi import Depends, Header, Request, Response, params
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from caremesh.platform import permissions
from caremesh.platform.edge import MAX_BODY_KEY
from caremesh.platform.errors import (
    PROBLEM_JSON,
    DomainError,
    Forbidden,
    MalformedJson,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
    VersionConflict,
)
from caremesh.platform.idempotency import keys, requests
from caremesh.platform.pagination import Page
from caremesh.platform.ratelimit import hit
from caremesh.platform.security import Principal
from caremesh.platform.settings import parse_rate
from caremesh.platform.uow import UnitOfWork, UnitOfWorkFactory

API_PREFIX = "/api/v1"

PrincipalLoader = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[Principal | None]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
ReadT = TypeVar("ReadT", bound=BaseModel)

_JSON = re.compile(r"^application/([\w.-]+\+)?json$")


def max_body_bytes(limit: int) -> Callable[[Endpoint], Endpoint]:
    """An endpoint that takes bodies up to `limit` bytes instead of CAREMESH_MAX_BODY_BYTES (attachments)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        endpoint.max_body_bytes = limit  # type: ignore[attr-defined]
        return endpoint

    return mark


def _takes_json(route: APIRoute) -> bool:
    return route.body_field is not None and not isinstance(route.body_field.field_info, params.Form)


async def read_body(request: Request, route: APIRoute) -> None:
    """Read (and cache) the body before any transaction, so a slow client holds no lock: within the
    endpoint's size limit (413), as JSON where the endpoint takes JSON (415, 400)."""
    if (limit := getattr(route.endpoint, "max_body_bytes", None)) is not None:
        request.scope[MAX_BODY_KEY] = limit
    body = await request.body()
    if not body or not _takes_json(route):
        return
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not _JSON.match(media_type):
        received = f"as {media_type}" if media_type else "without a Content-Type"
        raise UnsupportedMediaType(f"Send the body as application/json; it came {received}.")
    try:
        await request.json()  # parsed once: FastAPI reuses it
    except (ValueError, RecursionError) as error:
        raise MalformedJson(f"The body is not valid JSON: {error}.") from error


class TransactionalRoute(APIRoute):
    """Each request runs in one unit of work, committed before the response leaves.

    Every POST honours an optional `Idempotency-Key` (requests.py), documented as a header parameter,
    unless its router's route class says `honours_idempotency_key = False` or its endpoint takes a
    `NoIdempotencyKey` parameter.
    """

    honours_idempotency_key: ClassVar[bool] = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        if self.honours_idempotency_key and "POST" in methods and not _opts_out(endpoint):
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or ()), Depends(idempotency_key)]
            kwargs["responses"] = {**IDEMPOTENCY_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()
        template = API_PREFIX + self.path

        async def handle_in_transaction(request: Request) -> Response:
            request.scope["caremesh.route"] = template  # the metrics label
            await read_body(request, self)
            factory = request.app.state.uow_factory
            client = request.client.host if request.client else None
            try:
                async with factory.begin(request_id=request.state.request_id, ip=client) as uow:
                    request.state.uow = uow
                    return await _handle_keeping_response(handle, request, uow)
            except requests.Replayed as replayed:
                return replayed.response

        return handle_in_transaction


async def _handle_keeping_response(
    handle: Callable[[Request], Awaitable[Response]], request: Request, uow: UnitOfWork
) -> Response:
    """Run the handler; if it claimed an Idempotency-Key, store what it answers under the key in its transaction."""
    try:
        response = await handle(request)
    except DomainError as error:
        row = requests.claimed(request)
        if row is not None and error.keeps_side_effects and not isinstance(error, requests.Replayed):
            requests.store_error(uow, row, error)
        raise
    if (row := requests.claimed(request)) is not None:
        requests.store(uow, row, response)
    return response


class CredentialsRoute(TransactionalRoute):
    """For routes that issue, rotate or revoke credentials: never kept in a replay table, so no Idempotency-Key."""

    honours_idempotency_key = False


class UnitsRoute(APIRoute):
    """For the few use cases that must commit more than once in one request, with slow work between
    the transactions (a payment gateway call must not hold the database's write lock). The handler
    opens each unit itself with `Units.begin()`; authentication still runs before any of them."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()
        template = API_PREFIX + self.path

        async def handle_with_units(request: Request) -> Response:
            request.scope["caremesh.route"] = template
            await read_body(request, self)
            request.state.units = Units(request)
            return await handle(request)

        return handle_with_units


class Units:
    """Opens units of work for one request, each carrying the request's id, client and principal."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.actor: Principal | None = None

    @property
    def factory(self) -> UnitOfWorkFactory:
        return self._request.app.state.uow_factory

    def begin(self) -> AbstractAsyncContextManager[UnitOfWork]:
        request = self._request
        client = request.client.host if request.client else None
        return self.factory.begin(request_id=request.state.request_id, ip=client, actor=self.actor)


def get_uow(request: Request) -> UnitOfWork:
    return request.state.uow


def get_units(request: Request) -> Units:
    return request.state.units


Uow = Annotated[UnitOfWork, Depends(get_uow)]
UnitsOfWork = Annotated[Units, Depends(get_units)]

bearer = OAuth2PasswordBearer(tokenUrl=f"{API_PREFIX}/auth/token", auto_error=False)


async def current_principal(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Principal:
    if not token:
        raise Unauthenticated("Send `Authorization: Bearer <access token>`.")
    state = request.app.state
    user_id, session_id = state.token_signer.verify_access_token(token, now=state.uow_factory.clock.now())
    principal = await _load_principal(request, user_id, session_id)
    if principal is None:
        raise Unauthenticated("The session has ended or the user is disabled.")
    limit, period = parse_rate(state.settings.security.api_rate_limit)
    retry_after = await hit(state.rate_limiter, f"api:{principal.user_id}", limit, period)
    if retry_after is not None:
        raise RateLimited("Too many requests for this user.", headers={"Retry-After": str(int(retry_after) + 1)})
    if (uow := getattr(request.state, "uow", None)) is not None:
        uow.actor = principal
    if (units := getattr(request.state, "units", None)) is not None:
        units.actor = principal
    return principal


async def _load_principal(request: Request, user_id: uuid.UUID, session_id: uuid.UUID) -> Principal | None:
    """In the request's own transaction where it has one (one connection, no second session); else (UnitsRoute,
    whose units open later) in a short read-only session."""
    state = request.app.state
    if (uow := getattr(request.state, "uow", None)) is not None:
        return await state.principal_loader(uow.session, user_id, session_id)
    async with state.db.read_sessionmaker() as session:
        return await state.principal_loader(session, user_id, session_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def idempotency_key(
    request: Request,
    principal: CurrentPrincipal,
    key: Annotated[
        str | None,
        Header(
            alias=keys.HEADER,
            description=requests.HEADER_DESCRIPTION,
            json_schema_extra={"minLength": 1, "maxLength": keys.MAX_KEY_LENGTH, "pattern": keys.KEY_PATTERN},
        ),
    ] = None,
) -> None:
    """Claims the request's Idempotency-Key for its principal (keys are per user), or replays the response
    stored under it; nothing without the header."""
    if key is not None:
        await requests.claim(request, request.state.uow, key, getattr(request.app.state, "replay_recorder", None))


def no_idempotency_key() -> None:
    """Marks an endpoint whose POST does not honour Idempotency-Key (see TransactionalRoute)."""


NoIdempotencyKey = Annotated[None, Depends(no_idempotency_key)]

IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "IDEMPOTENCY_KEY_INVALID (and the operation's own)", "content": {PROBLEM_JSON: {}}},
}


def _opts_out(endpoint: Callable[..., Any]) -> bool:
    hints = get_type_hints(endpoint, include_extras=True)
    return any(
        isinstance(meta, params.Depends) and meta.dependency is no_idempotency_key
        for hint in hints.values()
        for meta in get_args(hint)[1:]
    )


def require(permission: str) -> Any:
    """A dependency that admits principals whose roles grant `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not permissions.allows(principal.roles, permission):
            raise Forbidden(f"Your roles do not allow {permission}.")
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # the OpenAPI document derives 403 from it
    return Depends(check)


def expected_version(if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> int | None:
    """The version an `If-Match` header names (`"3"` or `W/"3"`), if any."""
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise VersionConflict("If-Match must carry the ETag this API returned.")
    return int(raw)


IfMatch = Annotated[int | None, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def read_page(schema: type[ReadT], listed: tuple[Sequence[Any], str | None], **validation: Any) -> Page[ReadT]:
    """A page of rows (what a repository's `list` or `page` answers) as a page of read models."""
    rows, cursor = listed
    items = [schema.model_validate(row, from_attributes=True, **validation) for row in rows]
    return Page[schema](items=items, next_cursor=cursor)  # type: ignore[valid-type]


def read_model(schema: type[ReadT], row: Any, response: Response | None = None, **validation: Any) -> ReadT:
    """The row as its read model (`validation`: more arguments of `model_validate`, e.g. its `context`); with
    `response`, its version as the ETag."""
    if response is not None:
        set_etag(response, row.version)
    return schema.model_validate(row, from_attributes=True, **validation)
