"""Human-facing numbers (`APT-2026-000042`): a counter per prefix and year, restarting at 1 each year.

Two kinds (docs/DECISIONS.md, issue 13):
- `next_number`, gap-tolerant identifiers (appointments, orders, claims, payments, refunds): on PostgreSQL a
  SEQUENCE per prefix and year, which nobody waits for; a rolled-back transaction burns its value. On SQLite
  the counter row below (SQLite has one writer at a time anyway, so a lock costs nothing more there).
- `next_gapless_number`, tax documents (invoices): the counter row, locked until the transaction ends, so a
  rollback gives the number back and a year's numbers run 1..n. Take it as late as the caller can.
"""

from __future__ import annotations

import asyncio
import functools
import re
import weakref

from sqlalchemy import Integer, Select, Sequence, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateSequence

from caremesh.platform.db import PLATFORM_SCHEMA, Base, dialect_insert

_PREFIX = re.compile(r"^[A-Z]{2,10}$")
SEQUENCE_NAME_PREFIX = "number_"  # `number_apt_2026`, in the platform's schema


class NumberSequence(Base):
    __tablename__ = "number_sequences"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


def _format(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:06d}"


def _check(prefix: str, year: int) -> None:
    if not _PREFIX.match(prefix) or not 1 <= year <= 9999:
        raise ValueError(f"a number's prefix is 2-10 capital letters and its year 1-9999, not {prefix!r} {year!r}")


async def next_gapless_number(session: AsyncSession, prefix: str, year: int) -> str:
    """One upsert: the first number of a year is 1; the row stays locked until the transaction ends."""
    _check(prefix, year)
    return _format(prefix, year, await _take_from_table(session, prefix, year))


async def next_number(session: AsyncSession, prefix: str, year: int) -> str:
    """A number that may leave gaps (a rolled-back transaction burns it) but holds no lock past its statement."""
    _check(prefix, year)
    if session.bind.dialect.name != "postgresql":
        return _format(prefix, year, await _take_from_table(session, prefix, year))
    engine: AsyncEngine = session.bind  # type: ignore[assignment]
    name, next_value = _next_value(prefix, year)
    await _ensure_sequence(engine, prefix, year, name)
    try:
        value = await session.scalar(next_value)
    except DBAPIError:
        _known_sequences(engine.sync_engine).discard(name)  # dropped behind our back: create it next time
        raise
    return _format(prefix, year, value)


async def _take_from_table(session: AsyncSession, prefix: str, year: int) -> int:
    insert = dialect_insert(session)
    statement = insert(NumberSequence).values(prefix=prefix, year=year, last_value=1)
    return await session.scalar(  # type: ignore[no-any-return]
        statement.on_conflict_do_update(
            index_elements=[NumberSequence.prefix, NumberSequence.year],
            set_={"last_value": NumberSequence.last_value + 1},
        ).returning(NumberSequence.last_value)
    )


def sequence_for(prefix: str, year: int, *, start: int = 1) -> Sequence:
    """The PostgreSQL sequence of `prefix` and `year`, in the logical schema `platform` (the engine's
    schema_translate_map names the physical one). Not in the models' metadata: created on demand."""
    return Sequence(f"{SEQUENCE_NAME_PREFIX}{prefix.lower()}_{year}", schema=PLATFORM_SCHEMA, start=start, minvalue=1)


@functools.lru_cache(maxsize=1024)
def _next_value(prefix: str, year: int) -> tuple[str, Select[tuple[int]]]:
    sequence = sequence_for(prefix, year)
    return sequence.name, select(sequence.next_value())


# The sequences each engine (one per process) knows to exist, and a lock per sequence being created.
_known: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_creating: weakref.WeakKeyDictionary[Engine, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _known_sequences(engine: Engine) -> set[str]:
    return _known.setdefault(engine, set())


async def _ensure_sequence(engine: AsyncEngine, prefix: str, year: int, name: str) -> None:
    """Create the sequence on first use, on a connection of its own outside the caller's transaction (so a
    failure here never aborts it, and it needs no second connection from a pool the caller may have drained).
    A new sequence continues the counter row, if an older version numbered this prefix and year there."""
    known = _known_sequences(engine.sync_engine)
    if name in known:
        return
    async with _creating.setdefault(engine.sync_engine, {}).setdefault(name, asyncio.Lock()):
        if name in known:
            return
        options = dict(engine.sync_engine.get_execution_options())
        side = create_async_engine(engine.url, poolclass=NullPool, execution_options=options)
        try:
            for attempt in (1, 2):
                try:
                    async with side.begin() as connection:
                        taken = await connection.scalar(
                            select(NumberSequence.last_value).where(
                                NumberSequence.prefix == prefix, NumberSequence.year == year
                            )
                        )
                        sequence = sequence_for(prefix, year, start=(taken or 0) + 1)
                        await connection.execute(CreateSequence(sequence, if_not_exists=True))
                    break
                except DBAPIError:
                    if attempt == 2:  # another process creating it at the same moment fails us once at most
                        raise
        finally:
            await side.dispose()
        known.add(name)
