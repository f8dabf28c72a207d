"""Rows to values: the dataclass counterpart of `model_validate(row, from_attributes=True)`, and a row seen with
attributes it does not store."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def from_attributes(cls: type[T], row: object, **given: Any) -> T:
    """The dataclass `cls` (an event, a contract's summary) with every field not `given` read from the attribute of
    `row` of the same name."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    read = {field.name: getattr(row, field.name) for field in fields if field.name not in given}
    return cls(**read, **given)


class WithAttributes:
    """`row` with some attributes added or replaced (e.g. the clinic's currency for a row that does not store one),
    for `model_validate(..., from_attributes=True)`."""

    def __init__(self, row: object, **attributes: Any) -> None:
        self._row = row
        self.__dict__.update(attributes)

    def __getattr__(self, name: str) -> Any:  # only for names not set above
        return getattr(self._row, name)
