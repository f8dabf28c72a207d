"""Async SQLAlchemy on SQLite (WAL) and PostgreSQL (asyncpg), and the column types every context uses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import DateTime, Index, MetaData, Numeric, Select, String, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

from caremesh.platform.money import CENT
from caremesh.platform.settings import DatabaseSettings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Logical schemas: one per context (named after it) and `platform` for the shared kernel's tables. Models name
# the logical one; the engine maps it to the physical one (`schema_translate_map`, for ORM, Core and DDL): on
# PostgreSQL the context's name, or `<CAREMESH_DATABASE_SCHEMA>_<name>` when that is set (test runs and
# installations side by side); on SQLite none (one file, as before).
PLATFORM_SCHEMA = "platform"
_declared_schemas: set[str] = set()  # filled as models are declared (the platform knows no context by name)


def schema_of_module(module: str) -> str | None:
    """The logical schema of a model declared in `module`: `caremesh.platform.…` → `platform`,
    `caremesh.<context>.…` → the context; anything else → none."""
    parts = module.split(".")
    if len(parts) > 2 and parts[0] == "caremesh":
        return PLATFORM_SCHEMA if parts[1] == "platform" else parts[1]
    return None


def declared_schemas() -> tuple[str, ...]:
    """Every logical schema of the models imported so far (import `caremesh.models` for all)."""
    return tuple(sorted(_declared_schemas))


def physical_schema(logical: str, prefix: str | None) -> str:
    return f"{prefix}_{logical}" if prefix else logical


class SchemaMap(dict):  # type: ignore[type-arg]
    """`schema_translate_map` of one engine: logical schema → physical (None on SQLite). Answers for every
    declared schema, including ones declared after the engine was built; other schemas are left alone."""

    def __init__(self, dialect: str, prefix: str | None) -> None:
        super().__init__()
        self.dialect, self.prefix = dialect, prefix

    def __contains__(self, name: object) -> bool:
        return name in _declared_schemas

    def __getitem__(self, name: str) -> str | None:
        return None if self.dialect == "sqlite" else physical_schema(name, self.prefix)

    def __bool__(self) -> bool:
        return True


def _with_schema(table_args: Any, schema: str) -> Any:
    if isinstance(table_args, dict):
        return {"schema": schema, **table_args}
    if table_args and isinstance(table_args[-1], dict):
        return (*table_args[:-1], {"schema": schema, **table_args[-1]})
    return (*table_args, {"schema": schema})


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every table lands in the logical schema of the module that declares it, declared once here.
        schema = schema_of_module(cls.__module__)
        if schema and "__tablename__" in cls.__dict__:
            cls.__table_args__ = _with_schema(cls.__dict__.get("__table_args__", ()), schema)
            args = cls.__table_args__
            _declared_schemas.add((args if isinstance(args, dict) else args[-1])["schema"])  # explicit wins
        super().__init_subclass__(**kwargs)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; `timestamptz` on PostgreSQL, naive-UTC ISO text on SQLite.

    SQLite stores one fixed format, so text comparison orders like time (the overlap triggers rely on it).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a timezone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact two-decimal amounts: NUMERIC(14,2) on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(14, 2)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return Decimal

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(CENT)


def build_engine(settings: DatabaseSettings) -> AsyncEngine:
    dialect = "sqlite" if settings.is_sqlite else "postgresql"
    schemas = {"schema_translate_map": SchemaMap(dialect, settings.database_schema)}
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            execution_options=schemas,
            echo=settings.database_echo,
            hide_parameters=True,  # statement parameters carry personal data; errors must not log them
            connect_args={"timeout": 30},
        )
        _configure_sqlite(engine)
        return engine
    server_settings = {"timezone": "UTC", "application_name": "caremesh"}
    if settings.database_schema:
        server_settings["search_path"] = f"{settings.database_schema},public"
    return create_async_engine(
        settings.database_url,
        execution_options=schemas,
        echo=settings.database_echo,
        hide_parameters=True,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": server_settings},
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and `BEGIN IMMEDIATE` transactions serialised in process.

    Taking the write lock at BEGIN makes every read-then-write transaction serial, so a check
    followed by an insert cannot race; readers in WAL mode are never blocked. Writers of this
    process queue on a FIFO lock held exactly as long as their transaction, so each wakes at once
    instead of through SQLite's polling busy handler; other processes wait through busy_timeout.
    Nothing else (reading a request body, hashing a password) ever holds it.
    """
    write_lock = asyncio.Lock()
    holder = "caremesh.sqlite_write_lock"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's own lower() folds ASCII only; names are not ASCII-only.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE" and not connection.info.get(holder):
            await_(write_lock.acquire())  # runs inside SQLAlchemy's greenlet, so it may await
            connection.info[holder] = True
        connection.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # Back in the pool means committed or rolled back: the transaction is over.
        if record.info.pop(holder, False):
            write_lock.release()


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


class Database:
    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine = build_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        # Read-only work (authentication, health checks) never takes SQLite's write lock.
        self.read_engine = self.engine.execution_options(sqlite_begin="DEFERRED")
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False, class_=AsyncSession)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_insert(session: AsyncSession) -> Any:
    """The session's dialect's `insert`, which has ON CONFLICT (`on_conflict_do_nothing`/`_do_update`)."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def serialise(session: AsyncSession, key: str) -> None:
    """Hold `key` until this transaction ends, so work that checks then writes runs one at a time across
    processes: a transaction-level advisory lock on PostgreSQL (per schema); nothing on SQLite, whose write
    transactions are serialised already (`BEGIN IMMEDIATE`)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || :key, 0))"), {"key": key}
        )


def violates(error: Exception, constraint: str) -> bool:
    """True when a database error names `constraint`: a unique or exclusion constraint's name on
    PostgreSQL, the constraint's column list or a trigger's RAISE message on SQLite."""
    return constraint in str(getattr(error, "orig", error))


async def one_or_raise(
    session: AsyncSession, query: Select[Any], missing: Callable[[], Exception], *, for_update: bool = False
) -> Any:
    """The row `query` selects, else raise `missing()`. `for_update` locks it and re-reads it from the database."""
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = await session.scalar(query)
    if row is None:
        raise missing()
    return row


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows matching `where` (an SQL condition), the same on SQLite and PostgreSQL."""
    condition = text(where)
    return Index(name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


def quoted_list(values: Iterable[Any]) -> str:
    """`'a', 'b'` for the IN list of a CHECK constraint (enum members by their value)."""
    return ", ".join(f"'{getattr(value, 'value', value)}'" for value in values)
