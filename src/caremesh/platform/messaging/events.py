"""Typed integration events: each is a frozen dataclass named after the event it carries.

A context declares its events in its own events.py (re-exported by its contract.py):

    @integration_event("invoice.paid")
    class InvoicePaid(IntegrationEvent):
        invoice_id: uuid.UUID
        total: Decimal
        ...

`to_payload()` is the JSON the outbox stores (UUIDs, Decimals and dates as strings, instants RFC 3339 UTC,
fields in declaration order); `from_payload()` parses it back and refuses a payload that lacks a field or
carries one of the wrong type. Fields a payload carries beyond the class are ignored (a newer publisher).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from pydantic import TypeAdapter, ValidationError

from caremesh.platform.messaging.envelope import jsonable


class EventPayloadInvalid(ValueError):
    """A payload that does not make the event its type names."""

    def __init__(self, event_type: str, problems: list[str]) -> None:
        self.event_type = event_type
        self.problems = problems
        super().__init__(f"{event_type} payload refused: {'; '.join(problems)}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntegrationEvent:
    """The base of every integration event. Subclasses are declared with `@integration_event(...)`, which names
    them; a base that only shares fields among events is a plain frozen, keyword-only dataclass."""

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1

    def to_payload(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        try:
            return _adapter(cls).validate_python(payload)
        except ValidationError as error:
            raise EventPayloadInvalid(cls.event_type, [_problem(e) for e in error.errors()]) from None


EventT = TypeVar("EventT", bound=IntegrationEvent)


@dataclass_transform(frozen_default=True, kw_only_default=True)
def integration_event(event_type: str, *, version: int = 1) -> Callable[[type[EventT]], type[EventT]]:
    """Declare an event class: a frozen, keyword-only dataclass carrying `event_type` (and `event_version`)."""

    def declare(cls: type[EventT]) -> type[EventT]:
        cls.event_type = event_type
        cls.event_version = version
        return dataclasses.dataclass(frozen=True, kw_only=True)(cls)

    return declare


@cache
def _adapter(cls: type[IntegrationEvent]) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "payload"
    return f"{where}: {error['msg']}"


def event_classes(module: object) -> list[type[IntegrationEvent]]:
    """The event classes a module defines or re-exports: subclasses of IntegrationEvent that name an event
    (bases that only share fields name none)."""
    found: list[type[IntegrationEvent]] = []
    for value in vars(module).values():
        named = isinstance(value, type) and issubclass(value, IntegrationEvent) and "event_type" in vars(value)
        if named and value not in found:
            found.append(value)
    return found
