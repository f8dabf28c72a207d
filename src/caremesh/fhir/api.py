"""FHIR R4 over HTTP at PREFIX: `GET /metadata` (no token needed, as FHIR clients expect), and for each registered
type `GET /{type}` (search: a searchset Bundle) and `GET /{type}/{id}` (read), each behind the JSON API's read
permission for the same data. Every answer is application/fhir+json; every error an OperationOutcome. The routes
stay out of the OpenAPI document: the CapabilityStatement describes them (docs/DECISIONS.md, issue 17)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from fhir.resources.R4B.resource import Resource
from starlette.exceptions import HTTPException as StarletteHTTPException

from caremesh.fhir import domain, service
from caremesh.fhir.errors import NotSupported, ResourceNotFound, ServerError, UnknownResourceType
from caremesh.fhir.framework import ResourceType
from caremesh.fhir.registry import RESOURCES
from caremesh.platform.api import TransactionalRoute, Uow, require
from caremesh.platform.errors import DomainError

_EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
PREFIX = "/fhir/R4"  # where the composition root mounts this router (not under /api/v1)
log = structlog.get_logger("caremesh.fhir")


def fhir_response(resource: Resource, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(resource.model_dump_json(), status_code=status, media_type=domain.FHIR_JSON, headers=headers)


def outcome_response(error: DomainError, headers: dict[str, str] | None = None) -> Response:
    # A malformed search value is a 400 in FHIR, where the JSON API says 422 (e.g. a forged cursor).
    status = 400 if error.status == 422 else error.status
    outcome = domain.outcome(status, error.code, error.title, error.detail)
    return fhir_response(outcome, status, {**error.headers, **(headers or {})})


class FhirRoute(TransactionalRoute):
    """A transactional route whose errors (401, 403 and an unexpected 500 included) are OperationOutcomes, labelled
    for the metrics by its path under PREFIX."""

    honours_idempotency_key = False

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()
        template = PREFIX + self.path

        async def handle_as_fhir(request: Request) -> Response:
            try:
                return await handle(request)
            except DomainError as error:
                return outcome_response(error)
            except StarletteHTTPException as error:
                return outcome_response(DomainError(str(error.detail), status=error.status_code, code="HTTP_ERROR"))
            except Exception as error:  # the transaction is rolled back; logged as the JSON API logs its 500s
                log.error("unhandled_error", error_type=type(error).__name__, exc_info=error)
                return outcome_response(ServerError("The server could not complete the request."))
            finally:
                request.scope["caremesh.route"] = template

        return handle_as_fhir


class FhirPlainRoute(APIRoute):
    """A route outside any transaction (the CapabilityStatement, the catch-all), labelled as FhirRoute's are."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()
        template = PREFIX + self.path

        async def handle_labelled(request: Request) -> Response:
            request.scope["caremesh.route"] = template
            return await handle(request)

        return handle_labelled


router = APIRouter(route_class=FhirRoute, include_in_schema=False)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def metadata(request: Request) -> Response:
    state = request.app.state
    statement = service.capabilities(
        base=base_url(request), software_version=request.app.version, now=state.clock.now()
    )
    return fhir_response(statement)


router.add_api_route("/metadata", metadata, methods=["GET"], route_class_override=FhirPlainRoute)


def _search(kind: ResourceType) -> Callable[..., Awaitable[Response]]:
    async def search(request: Request, uow: Uow) -> Response:
        resources, cursor = await service.search(uow, kind, request.query_params.multi_items())
        next_url = None if cursor is None else str(request.url.include_query_params(**{domain.CURSOR: cursor}))
        bundle = domain.searchset(resources, base=base_url(request), self_url=str(request.url), next_url=next_url)
        return fhir_response(bundle)

    return search


def _read(kind: ResourceType) -> Callable[..., Awaitable[Response]]:
    async def read(resource_id: str, uow: Uow) -> Response:
        return fhir_response(await service.read(uow, kind, resource_id))

    return read


for _kind in RESOURCES.values():
    _permission = [require(_kind.permission)]
    router.add_api_route(f"/{_kind.name}", _search(_kind), methods=["GET"], dependencies=_permission)
    router.add_api_route(f"/{_kind.name}/{{resource_id}}", _read(_kind), methods=["GET"], dependencies=_permission)


async def elsewhere(path: str, request: Request) -> Response:
    """Anything else under PREFIX: an unknown type or path (404), or a write to this read-only server (405)."""
    if request.method not in ("GET", "HEAD"):
        refusal = NotSupported(f"{request.method} is not supported: this FHIR server is read-only.")
        return outcome_response(refusal, headers={"Allow": "GET"})
    kind = path.split("/", 1)[0]
    if kind and kind not in RESOURCES:
        return outcome_response(UnknownResourceType(f"{kind} is not a resource type this server serves"))
    return outcome_response(ResourceNotFound(f"Nothing is served at {PREFIX}/{path}"))


router.add_api_route("/{path:path}", elsewhere, methods=list(_EVERY_METHOD), route_class_override=FhirPlainRoute)
