"""Human-facing numbers (`APT-2026-000042`): a counter per prefix and year, taken under a row lock."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from caremesh.platform.db import Base


class NumberSequence(Base):
    __tablename__ = "number_sequences"

    prefix: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


async def next_number(session: AsyncSession, prefix: str, year: int) -> str:
    """One upsert: the first number of a year is 1; the row stays locked until the transaction ends."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = insert(NumberSequence).values(prefix=prefix, year=year, last_value=1)
    value = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[NumberSequence.prefix, NumberSequence.year],
            set_={"last_value": NumberSequence.last_value + 1},
        ).returning(NumberSequence.last_value)
    )
    return f"{prefix}-{year}-{value:06d}"
