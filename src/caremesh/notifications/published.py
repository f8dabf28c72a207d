"""Every event the product publishes, for templates added by `POST /notification-templates`.

The registry is read from each context's contract (contexts.CONTEXTS, `event_classes`), so an event a context
adds later is a valid `event_type` without a change here. A template sees the event's fields as they travel
(`to_payload()`): money shown with its currency, instants in the clinic timezone, like the built-in kinds; a
template is checked against a sample built from the fields' types, also with each optional field absent.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from caremesh.contexts import CONTEXTS
from caremesh.notifications.catalogue import parse_code
from caremesh.notifications.domain import SAMPLE_CURRENCY, Channel, EventKind
from caremesh.notifications.triggers import BUILT_IN_EVENT_TYPES, KIND_EVENTS
from caremesh.platform.messaging.events import IntegrationEvent, event_classes

# Ids in a sample: one fixed UUID, so a checked template renders the same each time.
_SAMPLE_ID = "7d1c9a8e-3f0b-4c61-9a55-0d2f4b6e8a10"


@cache
def published_events() -> dict[str, type[IntegrationEvent]]:
    """Every published event type and its class, in the registry's order."""
    found: dict[str, type[IntegrationEvent]] = {}
    for name in CONTEXTS:
        contract = importlib.import_module(f"caremesh.{name}.contract")
        for event in event_classes(contract):
            found.setdefault(event.event_type, event)
    return found


def templatable_events() -> dict[str, type[IntegrationEvent]]:
    """The events a template may be added for: every published one but those the built-in kinds answer (their
    templates are edited with PUT; identity's carry secrets that only their own kinds may show)."""
    return {name: event for name, event in published_events().items() if name not in BUILT_IN_EVENT_TYPES}


@cache
def kind_for(event_type: str) -> EventKind:
    """The variables, sample and fallback message of a template added for `event_type` (one of
    templatable_events()). A message is for the patient the event names (`patient_id`), else the billing office."""
    event = templatable_events()[event_type]
    hints = typing.get_type_hints(event)
    fields = tuple(field.name for field in dataclasses.fields(event))
    sample: dict[str, Any] = {}
    optional: set[str] = set()
    money: set[str] = set()
    instants: set[str] = set()
    for name in fields:
        annotation, nullable = _unwrap_optional(hints[name])
        if nullable:
            optional.add(name)
        if annotation is Decimal:
            money.add(name)
        elif annotation is datetime:
            instants.add(name)
        sample[name] = SAMPLE_CURRENCY if name == "currency" else _sample(annotation)
    for_patient = "patient_id" in fields
    return EventKind(
        key=event_type,
        fields=fields,
        sample=sample,
        subject=f"caremesh: {event_type}",
        email=f"caremesh: {event_type} happened. Please sign in to caremesh for the details.\n",
        sms=f"caremesh: {event_type} happened." if for_patient else None,
        money=frozenset(money),
        instants=frozenset(instants),
        optional=frozenset(optional),
        for_patient=for_patient,
        to_billing_office=not for_patient,
    )


def template_kind(code: str, event_type: str | None, channel: str) -> tuple[EventKind, Channel, str] | None:
    """(kind, channel, the event type it answers) of a stored template: a built-in kind's, named by its code, or one
    added for another event; None for a template that answers no event (any more)."""
    if event_type is None:
        parsed = parse_code(code)
        return None if parsed is None else (*parsed, KIND_EVENTS[parsed[0].key])
    if event_type not in templatable_events():
        return None
    return kind_for(event_type), Channel(channel), event_type


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of a field's annotation."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        return members[0], nullable  # of a union of several types, a sample of the first will do
    return annotation, False


def _sample(annotation: Any) -> Any:
    """A value of this type as it travels in a payload."""
    origin = typing.get_origin(annotation)
    if annotation is uuid.UUID:
        return _SAMPLE_ID
    if annotation is Decimal:
        return "100.00"
    if annotation is datetime:
        return "2026-03-02T09:00:00Z"
    if annotation is date:
        return "2026-03-02"
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.5
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (tuple, list, set, frozenset) or annotation in (tuple, list):
        return []
    if origin in (dict,) or dataclasses.is_dataclass(annotation):
        return {}
    return "sample"
