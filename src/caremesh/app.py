"""The composition root: `create_app(contexts=...)` wires routers, consumers and the event machinery."""

from __future__ import annotations

import importlib
import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from types import ModuleType

import structlog
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

import caremesh.models  # noqa: F401 - every context's tables, messaging tables included, declared
from caremesh.contexts import CONTEXTS
from caremesh.platform.api import API_PREFIX
from caremesh.platform.clock import Clock, SystemClock
from caremesh.platform.db import PLATFORM_SCHEMA, Database
from caremesh.platform.docs import install_docs
from caremesh.platform.edge import BodyLimitMiddleware, CorsMiddleware, NoStoreMiddleware
from caremesh.platform.errors import install_error_handlers
from caremesh.platform.messaging.bus import Subscription, Subscriptions
from caremesh.platform.messaging.runtime import JobFactory, Workers
from caremesh.platform.observability import RequestContextMiddleware, configure_logging
from caremesh.platform.openapi import build_openapi, install_openapi
from caremesh.platform.ops import router as ops_router
from caremesh.platform.ratelimit import rate_limiter
from caremesh.platform.security import TokenSigner
from caremesh.platform.settings import Settings
from caremesh.platform.timeutil import set_clinic_timezone
from caremesh.platform.uow import UnitOfWork, UnitOfWorkFactory
from caremesh.webapp import APP_PATH, install_webapp

ALL_CONTEXTS: tuple[str, ...] = CONTEXTS
# Where `/` leads: the web app (its sign-in page).
HOME_PATH = f"{APP_PATH}/"
# Answers under these prefixes may carry patient data: never cached.
PRIVATE_PREFIXES = (API_PREFIX, "/fhir")


def mount_point(api: ModuleType) -> str:
    """Where a context's router is served: under /api/v1, unless its api module names its own `PREFIX` (FHIR)."""
    return getattr(api, "PREFIX", API_PREFIX)


def _subscriptions(contexts: Sequence[str]) -> list[Subscription]:
    found: list[Subscription] = []
    for name in contexts:
        found.extend(getattr(importlib.import_module(f"caremesh.{name}.handlers"), "SUBSCRIPTIONS", ()))
    return found


def _jobs(contexts: Sequence[str]) -> list[JobFactory]:
    """Background jobs a context's `jobs` module offers as `JOBS` (factories taking the unit-of-work factory)."""
    found: list[JobFactory] = []
    for name in contexts:
        if importlib.util.find_spec(f"caremesh.{name}.jobs") is not None:
            found.extend(importlib.import_module(f"caremesh.{name}.jobs").JOBS)
    return found


def _bootstraps(contexts: Sequence[str]) -> list[Callable[[UnitOfWork], Awaitable[None]]]:
    """Start-up steps a context's service offers as `bootstrap(uow)`, e.g. default reference data."""
    found = []
    for name in contexts:
        step = getattr(importlib.import_module(f"caremesh.{name}.service"), "bootstrap", None)
        if step is not None:
            found.append(step)
    return found


def _record_replay(uow: UnitOfWork, key_id: uuid.UUID) -> None:
    """A replayed response is a read of what it holds: audit it (who, which key), never its content."""
    from caremesh.audit import contract as audit

    audit.record(uow, "request.replay", "idempotency_key", key_id)


def create_app(
    settings: Settings | None = None,
    *,
    contexts: Sequence[str] = ALL_CONTEXTS,
    clock: Clock | None = None,
    extra_subscriptions: Iterable[Subscription] = (),
    bootstrap: bool = True,
) -> FastAPI:
    """`bootstrap=False`: start without the start-up steps (first admin, reference data), which `serve --workers`
    runs once in its parent (`run_startup_steps`) before the workers start."""
    from caremesh.audit import contract as audit_contract
    from caremesh.identity import contract as identity_contract
    from caremesh.identity import service as identity_service

    settings = settings or Settings()
    clock = clock or SystemClock()
    configure_logging(settings.app)
    set_clinic_timezone(settings.app.tz)

    db = Database(settings.db)
    extra = list(extra_subscriptions)
    subscriptions = Subscriptions([*_subscriptions(contexts), *extra], settings=settings)
    every_subscription = Subscriptions([*_subscriptions(ALL_CONTEXTS), *extra], settings=settings)
    uow_factory = UnitOfWorkFactory(db, clock, settings=settings)
    workers = Workers(
        uow_factory,
        subscriptions,
        settings.messaging,
        every_subscription=every_subscription,
        # Every context records audit events, so every process seals them.
        jobs=[*(make(uow_factory) for make in _jobs(contexts)), audit_contract.sealer(uow_factory)],
        outboxes=(*contexts, PLATFORM_SCHEMA),  # this process relays what its contexts (and the platform) publish
    )
    uow_factory.on_events_committed = workers.relay.wake

    async def startup_steps() -> None:
        # Processes starting at once run these at once: each step is safe so by itself, in its own transaction
        # (never holding one step's rows while waiting on another's).
        async with uow_factory.begin(request_id="startup") as uow:
            await identity_service.bootstrap_admin(uow, settings.security, app.state.authenticator)
        for step in _bootstraps(contexts):
            async with uow_factory.begin(request_id="startup") as uow:
                await step(uow)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if bootstrap:
            await startup_steps()
        workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await app.state.rate_limiter.close()
            await db.dispose()

    # No default_response_class: FastAPI then renders a declared return model straight to JSON bytes in
    # pydantic-core, faster than ORJSONResponse or pydantic_core.to_json on a dict (docs/DECISIONS.md, issue 13).
    app = FastAPI(
        title="caremesh",
        version="1.0.0",
        summary="Hospital platform: patients, practitioners, scheduling, billing, payments, insurance and claims, "
        "clinical orders (pharmacy and lab), notifications, identity and audit.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by install_docs, not from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.db = db
    app.state.uow_factory = uow_factory
    app.state.workers = workers
    app.state.rate_limiter = rate_limiter(settings.security.redis_url, namespace=settings.security.redis_namespace)
    app.state.token_signer = TokenSigner(settings.security.signing_secret(), settings.security.access_token_ttl_seconds)
    app.state.authenticator = identity_service.Authenticator(settings.security, app.state.token_signer)
    app.state.principal_loader = identity_contract.load_principal
    app.state.replay_recorder = _record_replay
    app.state.startup_steps = startup_steps

    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    install_webapp(app)
    app.add_api_route("/", lambda: RedirectResponse(HOME_PATH), include_in_schema=False)
    # The last added runs first. CORS outermost, as nginx in front would be: even a 500 rendered by
    # RequestContextMiddleware reaches a browser app, with the X-Request-ID it exposes.
    app.add_middleware(BodyLimitMiddleware, default=settings.http.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(NoStoreMiddleware, prefixes=PRIVATE_PREFIXES)
    if settings.http.cors_origins:
        app.add_middleware(CorsMiddleware, origins=settings.http.cors_origins)
    app.include_router(ops_router)
    app.include_router(ops_router, prefix=API_PREFIX, include_in_schema=False)
    for name in contexts:
        api = importlib.import_module(f"caremesh.{name}.api")
        app.include_router(api.router, prefix=mount_point(api))
    if set(contexts) != set(ALL_CONTEXTS):
        _document_the_whole_product(app)
    return app


def _document_the_whole_product(app: FastAPI) -> None:
    """A process serving some contexts still answers /openapi.json (and /docs) with the whole product's document:
    behind the gateway, whichever process answers, a client sees every path the gateway routes."""
    whole = FastAPI(title=app.title, version=app.version, summary=app.summary)
    whole.include_router(ops_router)
    for name in ALL_CONTEXTS:
        api = importlib.import_module(f"caremesh.{name}.api")
        whole.include_router(api.router, prefix=mount_point(api))

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(whole)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# `caremesh serve --workers N` hands its worker processes the contexts to serve through this variable.
SERVE_CONTEXTS_ENV = "CAREMESH_SERVE_CONTEXTS"


async def run_startup_steps(settings: Settings, contexts: Sequence[str]) -> None:
    """The start-up steps (first admin, reference data) once, without serving: `serve --workers` runs them in the
    parent before its workers start."""
    app = create_app(settings, contexts=contexts)
    try:
        await app.state.startup_steps()
    finally:
        await app.state.rate_limiter.close()
        await app.state.db.dispose()


def worker_app() -> FastAPI:
    """The app of one worker of `caremesh serve --workers N` (uvicorn calls this factory in each process it spawns):
    settings from the environment, the start-up steps already run by the parent, each log line with its pid."""
    contexts = [c for c in os.environ.get(SERVE_CONTEXTS_ENV, "").split(",") if c] or ALL_CONTEXTS
    app = create_app(contexts=contexts, bootstrap=False)
    pid = os.getpid()

    def add_pid(_: object, __: str, event: dict) -> dict:
        event.setdefault("pid", pid)
        return event

    structlog.configure(processors=[add_pid, *structlog.get_config()["processors"]])
    return app
