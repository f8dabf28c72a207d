"""Name search: every word of `q` must appear, case-insensitively, in one of the given columns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true


def matches_every_word(q: str | None, *columns: Any) -> ColumnElement[bool]:
    """`%`, `_` and `\\` in the words match themselves, not as LIKE wildcards."""
    conditions = []
    for word in (q or "").split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
    return and_(*conditions) if conditions else true()
