"""Money: Decimal amounts rounded HALF_UP to the cent, serialised as strings with two decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer

CENT = Decimal("0.01")


def money(value: Decimal | int) -> Decimal:
    """`value` rounded HALF_UP to two decimals."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# Request money: a string or number with at most two decimals, not negative, up to 99 999 999.99; kept to the cent.
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False), AfterValidator(money)]
# Response money: a string with exactly two decimals ("1680.00").
MoneyOut = Annotated[Decimal, PlainSerializer(lambda value: f"{money(value):.2f}", return_type=str)]


def cents_sql(column: str) -> str:
    """SQL for a `Money` column as whole cents, alike on PostgreSQL (NUMERIC) and SQLite (text).

    CHECK constraints compare money through this, never the raw column: on SQLite that is text."""
    return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS BIGINT)"
