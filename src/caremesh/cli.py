"""The `caremesh` command."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from typing import Annotated

import typer

from caremesh.contexts import CONTEXTS, UnknownContext
from caremesh.contexts import select as select_contexts
from caremesh.platform.settings import Settings

cli = typer.Typer(help="caremesh: an event-driven hospital platform.", no_args_is_help=True, add_completion=False)
users_cli = typer.Typer(help="Manage users from the shell.", no_args_is_help=True)
dead_letters_cli = typer.Typer(help="Inspect and replay events that consumers kept failing on.", no_args_is_help=True)
cli.add_typer(users_cli, name="users")
events_cli = typer.Typer(help="Housekeeping of the event tables.", no_args_is_help=True)
cli.add_typer(dead_letters_cli, name="dead-letters")
cli.add_typer(events_cli, name="events")


def main() -> None:
    cli()


def _fail(message: str) -> None:
    """Stop with one line on stderr and exit status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _require_schema(settings: Settings) -> None:
    """Stop with one line (and exit status 1) unless the database is migrated to this code's head; never
    creates a database file."""
    from caremesh.platform.migrate import SchemaNotReady, require_schema

    try:
        asyncio.run(require_schema(settings.db))
    except SchemaNotReady as error:
        _fail(str(error))


@cli.command()
def gateway(
    listen: Annotated[str, typer.Option(help="Where nginx listens, HOST:PORT")],
    route: Annotated[
        list[str], typer.Option(help="CONTEXT[,CONTEXT...]=HOST:PORT of a process; repeat a route for replicas")
    ],
    output: Annotated[str | None, typer.Option(help="Write the configuration here (default: print it)")] = None,
    rate: Annotated[int, typer.Option(help="API requests per second per client address")] = 100,
    burst: Annotated[int, typer.Option(help="Requests above the rate let through at once before 429")] = 200,
) -> None:
    """Write the nginx configuration that routes each /api/v1 path to the processes serving its context
    (run it with `nginx -p DIR -c FILE`)."""
    from pathlib import Path

    from caremesh.gateway import GatewayProblem, Limits, parse_routes, render

    try:
        limits = Limits(max_body_bytes=Settings().http.max_body_bytes, requests_per_second=rate, burst=burst)
        text = render(listen, parse_routes(route), limits)
    except GatewayProblem as error:
        _fail(str(error))
    if output is None:
        typer.echo(text, nl=False)
    else:
        Path(output).write_text(text)
        typer.echo(f"wrote {output}: run it with `nginx -p <dir> -c {output}`")


@cli.command()
def up(
    listen: Annotated[str, typer.Option(help="Where nginx listens, HOST:PORT")] = "127.0.0.1:8080",
    process: Annotated[
        list[str] | None,
        typer.Option(help="CTX,CTX[*REPLICAS] per process group (default: people-facing, then money and orders *2)"),
    ] = None,
    first_port: Annotated[int, typer.Option(help="The processes listen on consecutive ports from here")] = 8101,
    workdir: Annotated[str, typer.Option(help="Where nginx keeps its configuration, pid and temporary files")] = (
        ".caremesh-up"
    ),
) -> None:
    """Start a local distributed topology: the contexts as separate processes behind nginx, on one database."""
    from pathlib import Path

    from caremesh import topology
    from caremesh.gateway import Limits
    from caremesh.platform.migrate import upgrade

    settings = Settings()
    try:
        processes = topology.plan(process or topology.DEFAULT_PROCESSES, first_port)
    except topology.TopologyProblem as error:
        _fail(str(error))
    asyncio.run(upgrade(settings.db))
    settings.security.signing_secret()  # created once here, so that every process signs with the same secret
    limits = Limits(max_body_bytes=settings.http.max_body_bytes)
    try:
        status = topology.up(listen, processes, Path(workdir), limits, typer.echo)
    except topology.TopologyProblem as error:
        _fail(str(error))
    raise typer.Exit(status)


@cli.command("contexts")
def list_contexts() -> None:
    """Print the bounded contexts, one a line (the names `serve --contexts` takes)."""
    for name in CONTEXTS:
        typer.echo(name)


@cli.command()
def migrate() -> None:
    """Apply the database migrations."""
    from sqlalchemy.exc import SQLAlchemyError

    from caremesh.platform.migrate import upgrade

    settings = Settings()
    try:
        asyncio.run(upgrade(settings.db))
    except (OSError, SQLAlchemyError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        typer.echo(f"error: cannot migrate the database: {reason}", err=True)
        raise typer.Exit(1) from None
    typer.echo("database is at the latest migration")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    demo: Annotated[bool, typer.Option(help="Seed demo data and print the demo logins")] = False,
    run_migrations: Annotated[
        bool | None, typer.Option("--migrate/--no-migrate", help="Migrate first (default: on SQLite)")
    ] = None,
    contexts: Annotated[
        str | None, typer.Option(help="Comma-separated contexts to serve (default: all; see `caremesh contexts`)")
    ] = None,
) -> None:
    """Run the HTTP API with the in-process event relay (the embedded mode)."""
    import uvicorn

    from caremesh import demo as demo_data
    from caremesh.app import create_app
    from caremesh.platform.migrate import sqlite_file, upgrade

    try:
        selected = select_contexts(contexts)
    except UnknownContext as error:
        _fail(str(error))
    settings = Settings()
    credentials = None
    if demo:
        credentials = demo_data.load_or_create_credentials()
        if not settings.security.admin_email:
            settings.security.admin_email = credentials.email("admin")
            settings.security.admin_password = credentials.passwords["admin"]
    if run_migrations if run_migrations is not None else settings.db.is_sqlite:
        path = sqlite_file(settings.db) if settings.db.is_sqlite else None
        if path is not None and not path.exists():
            typer.echo(f"creating a new database at {path.resolve()}")
        asyncio.run(upgrade(settings.db))
    else:
        _require_schema(settings)
    if credentials:
        seeded = asyncio.run(demo_data.seed(settings, credentials))
        typer.echo("demo data seeded" if seeded else "demo data already present")
    application = create_app(settings, contexts=selected)
    base = f"http://{host}:{port}"
    typer.echo(f"\ncaremesh is starting at {base}\n  API docs: {base}/docs (Authorize with an email and password)")
    if credentials:
        typer.echo("  demo logins (email / password):")
        for role, email, password in credentials.rows():
            typer.echo(f"    {role:<14} {email:<34} {password}")
    typer.echo("")
    uvicorn.run(application, host=host, port=port, log_config=None, access_log=False)


@cli.command()
def relay() -> None:
    """Run only the outbox relay and the consumers, without HTTP."""
    from caremesh.app import create_app

    settings = Settings()
    _require_schema(settings)

    async def run() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            await asyncio.Event().wait()

    asyncio.run(run())


@cli.command()
def permissions() -> None:
    """Print the role-permission matrix as a Markdown table."""
    from caremesh.platform.permissions import markdown_table

    typer.echo(markdown_table())


@users_cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's email")],
    full_name: Annotated[str, typer.Option(help="Display name")] = "Administrator",
    password: Annotated[
        str | None, typer.Option(help="Omit to be asked without echo; or set CAREMESH_ADMIN_PASSWORD")
    ] = None,
) -> None:
    """Create an admin user."""
    from caremesh.app import create_app
    from caremesh.identity.schemas import UserCreate
    from caremesh.platform.errors import DomainError

    settings = Settings()
    _require_schema(settings)
    secret = password or settings.security.admin_password or getpass.getpass("Password: ")

    async def run() -> uuid.UUID:
        app = create_app(settings)
        async with app.state.uow_factory.begin(request_id="cli") as uow:
            body = UserCreate(email=email, password=secret, full_name=full_name, roles=["admin"])
            user = await app.state.authenticator.create_user(uow, body)
        await app.state.db.dispose()
        return user.id

    try:
        user_id = asyncio.run(run())
    except DomainError as error:
        typer.echo(f"error: {error.code}: {error.detail}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"admin {email} created ({user_id})")


@dead_letters_cli.command("list")
def list_dead_letters(include_replayed: bool = False) -> None:
    """List dead-lettered deliveries."""
    import caremesh.models  # noqa: F401 - every context's dead letters are read, so every context's tables
    from caremesh.platform.db import Database
    from caremesh.platform.messaging.consumer import list_dead_letters as load

    settings = Settings()
    _require_schema(settings)

    async def run() -> None:
        db = Database(settings.db)
        async with db.sessionmaker() as session:
            rows = await load(session, include_replayed=include_replayed)
        await db.dispose()
        if not rows:
            typer.echo("no dead letters")
        for row in rows:
            replayed = f" replayed {row.replayed_at:%Y-%m-%d %H:%M}" if row.replayed_at else ""
            typer.echo(
                f"{row.id}  {row.failed_at:%Y-%m-%d %H:%M:%S}  {row.consumer}  {row.event_type}  "
                f"attempts={row.attempts}{replayed}\n    {row.error}"
            )

    asyncio.run(run())


@dead_letters_cli.command("replay")
def replay_dead_letters(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead letter ids")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter not yet replayed")] = False,
) -> None:
    """Queue dead letters for delivery again; a running server or `caremesh relay` delivers them."""
    import caremesh.models  # noqa: F401 - every context's dead letters are read, so every context's tables
    from caremesh.platform.clock import SystemClock
    from caremesh.platform.db import Database
    from caremesh.platform.messaging.consumer import list_dead_letters as load
    from caremesh.platform.messaging.consumer import replay_dead_letter

    if not ids and not replay_all:
        raise typer.BadParameter("name dead letter ids or pass --all")
    settings = Settings()
    _require_schema(settings)

    async def run() -> int:
        db = Database(settings.db)
        async with db.sessionmaker() as session, session.begin():
            targets = [row.id for row in await load(session)] if replay_all else [uuid.UUID(i) for i in ids or []]
            replayed = 0
            for target in targets:
                replayed += await replay_dead_letter(session, target, SystemClock().now())
        await db.dispose()
        return replayed

    typer.echo(f"{asyncio.run(run())} dead letter(s) queued for replay")


@events_cli.command("prune")
def prune_events(
    older_than_days: Annotated[int, typer.Option(min=1, help="Keep what is younger than this")] = 30,
) -> None:
    """Forget published outbox events, inbox entries and replayed dead letters older than N days, and settled
    Idempotency-Keys older than CAREMESH_IDEMPOTENCY_KEY_RETENTION_DAYS.

    Pending events and dead letters not yet replayed are kept. N must exceed the broker's redelivery window.
    """
    from datetime import timedelta

    import caremesh.models  # noqa: F401 - every context's messaging tables are pruned
    from caremesh.platform.clock import SystemClock
    from caremesh.platform.db import Database
    from caremesh.platform.idempotency import keys
    from caremesh.platform.messaging.retention import prune

    settings = Settings()
    _require_schema(settings)

    async def run() -> None:
        db = Database(settings.db)
        now = SystemClock().now()
        async with db.sessionmaker() as session, session.begin():
            pruned = await prune(session, before=now - timedelta(days=older_than_days))
            key_days = settings.app.idempotency_key_retention_days
            pruned_keys = await keys.prune(session, before=now - timedelta(days=key_days))
        await db.dispose()
        typer.echo(
            f"pruned: outbox events {pruned.outbox_events}, inbox entries {pruned.inbox_entries}, "
            f"replayed dead letters {pruned.dead_letters}, idempotency keys {pruned_keys}"
        )

    asyncio.run(run())
