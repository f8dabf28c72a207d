"""Cursor (keyset) pagination: `{items, next_cursor}`; the cursor encodes the last row's sort key."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from caremesh.platform.errors import Unprocessable

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams:
    def __init__(
        self,
        limit: int = Query(50, ge=1, le=200, description="Page size (max 200)"),
        cursor: str | None = Query(None, max_length=500, description="`next_cursor` of the previous page"),
    ) -> None:
        self.limit = limit
        self.cursor = cursor


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date | uuid.UUID | Decimal):
        return str(value) if not isinstance(value, datetime | date) else value.isoformat()
    return value


def _decode_value(raw: Any, python_type: type) -> Any:
    if raw is None:
        return None
    if python_type is not int and not isinstance(raw, str):
        raise ValueError("cursor values of this type are strings")
    if python_type is datetime:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError("cursor datetimes carry their offset")
        return moment
    if python_type is date:
        return date.fromisoformat(raw)
    if python_type is int and not (isinstance(raw, int) and -(2**63) <= raw < 2**63):
        raise ValueError("not a 64-bit integer")
    return python_type(raw)


def encode_cursor(values: Sequence[Any]) -> str:
    data = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise ValueError("wrong shape")
        return [_decode_value(v, c.type.python_type) for v, c in zip(raw, columns, strict=True)]
    except Exception as error:  # whatever a forged cursor makes the parsers raise
        raise Unprocessable(
            "The cursor is not one this API issued.",
            code="INVALID_CURSOR",
            extra={"errors": [{"loc": ["query", "cursor"], "msg": "not a cursor this API issued"}]},
        ) from error


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    *,
    order_by: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
) -> tuple[list[Any], str | None]:
    """Rows of one page (ordered ascending by `order_by`, whose last column must be unique) and the next cursor."""
    if params.cursor:
        values = decode_cursor(params.cursor, order_by)
        bound = [bindparam(None, v, type_=c.type) for v, c in zip(values, order_by, strict=True)]
        query = query.where(tuple_(*order_by) > tuple_(*bound))
    rows = list((await session.scalars(query.order_by(*order_by).limit(params.limit + 1))).all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, c.key) for c in order_by])
