"""Rows to values: the dataclass counterpart of `model_validate(row, from_attributes=True)`, and a row seen in the
clinic's currency."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from caremesh.platform.uow import UnitOfWork

T = TypeVar("T")


def from_attributes(cls: type[T], row: object, **given: Any) -> T:
    """The dataclass `cls` (an event, a contract's summary) with every field not `given` read from the attribute of
    `row` of the same name."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    read = {field.name: getattr(row, field.name) for field in fields if field.name not in given}
    return cls(**read, **given)


class InClinicCurrency:
    """A row whose amounts are in the clinic's currency, which the row does not store, for
    `model_validate(..., from_attributes=True)`."""

    def __init__(self, row: object, uow: UnitOfWork) -> None:
        self._row, self.currency = row, uow.settings.app.currency

    def __getattr__(self, name: str) -> Any:  # everything but the currency comes from the row
        return getattr(self._row, name)
