"""Every integration event is a typed class in its publisher's contract: it round-trips through its payload,
refuses a payload it cannot read, and every consumer subscribes to such a class. The classes are discovered
from the contracts, so a new event is covered without touching this file."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import types
import typing
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import caremesh
from caremesh.contexts import CONTEXTS
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.events import EventPayloadInvalid, IntegrationEvent, event_classes
from tests.builders import notifications as wire
from tests.builders.pharmacy import order_placed

CONTRACTS = {name: importlib.import_module(f"caremesh.{name}.contract") for name in CONTEXTS}
EVENTS: list[type[IntegrationEvent]] = [cls for contract in CONTRACTS.values() for cls in event_classes(contract)]
SRC = Path(caremesh.__file__).parent


def _sample(hint: Any, n: int = 0) -> Any:
    """A value of the type `hint`, different for different `n`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)), n)
    if origin is typing.Literal:
        return args[n % len(args)]
    if origin is tuple:
        return (_sample(args[0], n), _sample(args[0], n + 1))
    if dataclasses.is_dataclass(hint):
        return _instance(hint, n)
    return {
        uuid.UUID: lambda: uuid.UUID(int=n + 1),
        Decimal: lambda: Decimal(f"{n + 12}.50"),
        datetime: lambda: datetime(2030, 1, 7, 11, n % 60, tzinfo=UTC),
        date: lambda: date(2030, 1, 1 + n % 28),
        bool: lambda: n % 2 == 0,
        int: lambda: n + 3,
        str: lambda: f"text-{n}",
    }[hint]()


def _instance(cls: type, n: int = 0) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name], n + i) for i, f in enumerate(dataclasses.fields(cls))})


def _ids(classes: list[type]) -> list[str]:
    return [cls.event_type for cls in classes]


def test_the_contracts_declare_events():
    assert len(EVENTS) >= 30  # a discovery that finds nothing would pass every parametrised test below


@pytest.mark.parametrize("cls", EVENTS, ids=_ids(EVENTS))
def test_an_event_round_trips_through_its_payload(cls):
    event = _instance(cls)
    payload = event.to_payload()

    assert cls.from_payload(payload) == event
    assert list(payload) == [f.name for f in dataclasses.fields(cls)]
    assert json.loads(json.dumps(payload)) == payload  # JSON as it is: strings, numbers, booleans, lists


@pytest.mark.parametrize("cls", EVENTS, ids=_ids(EVENTS))
def test_an_event_refuses_a_payload_missing_a_field(cls):
    """Every field is required, except those added to a published event later (with a default)."""
    payload = _instance(cls).to_payload()
    added_later = {f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    for name in payload.keys() - added_later:
        partial = {k: v for k, v in payload.items() if k != name}
        with pytest.raises(EventPayloadInvalid) as refused:
            cls.from_payload(partial)
        assert f"{name}: Field required" in str(refused.value)
        assert str(refused.value).startswith(f"{cls.event_type} payload refused")


@pytest.mark.parametrize("cls", EVENTS, ids=_ids(EVENTS))
def test_an_event_refuses_a_field_of_the_wrong_type(cls):
    payload = _instance(cls).to_payload()
    for name, value in payload.items():
        if isinstance(value, str | list | bool):
            wrong: Any = {"not": "this"}
        else:
            wrong = "not-a-number" if value is not None else ["a list"]
        with pytest.raises(EventPayloadInvalid, match=rf"{name}\b"):
            cls.from_payload({**payload, name: wrong})


def test_a_payload_that_is_not_an_object_is_refused():
    cls = EVENTS[0]
    with pytest.raises(EventPayloadInvalid, match=rf"^{re.escape(cls.event_type)} payload refused"):
        cls.from_payload(["not", "an", "object"])  # type: ignore[arg-type]


def test_fields_a_newer_publisher_adds_are_ignored():
    payload = {**wire.lab_result_ready(str(uuid.uuid4())), "added_later": 1}
    event = CONTRACTS["lab"].LabResultReady.from_payload(payload)
    assert "added_later" not in event.to_payload()


def test_each_event_type_has_exactly_one_class_declared_in_its_publishers_events_module():
    types_ = [cls.event_type for cls in EVENTS]
    assert len(types_) == len(set(types_))
    for context, contract in CONTRACTS.items():
        for cls in event_classes(contract):
            assert cls.__module__ == f"caremesh.{context}.events", cls
            assert cls.__name__ in contract.__all__
            assert dataclasses.is_dataclass(cls)
            assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_the_event_name_constants_name_the_classes():
    """The old constants stay as the classes' names, for logs and tests; none names an event without a class."""
    declared = set(_ids(EVENTS))
    for contract in CONTRACTS.values():
        events_module = importlib.import_module(contract.__name__.replace(".contract", ".events"))
        for name, value in vars(events_module).items():
            if name.isupper() and isinstance(value, str):
                assert value in declared, name


def test_every_subscription_names_a_published_event_class():
    handlers = [importlib.import_module(f"caremesh.{name}.handlers") for name in CONTEXTS]
    subscriptions = [s for module in handlers for s in module.SUBSCRIPTIONS]
    assert subscriptions
    for subscription in subscriptions:
        assert subscription.event in EVENTS, subscription


def test_a_subscription_to_a_string_is_refused():
    async def handler(uow, event, envelope) -> None:
        return None

    with pytest.raises(TypeError, match="not an IntegrationEvent class"):
        Subscription("tests.consumer", "order.placed", handler)  # type: ignore[arg-type]


def test_contexts_publish_typed_events_and_read_no_payload_by_key():
    for path in SRC.glob("*/*.py"):
        if path.parent.name == "platform":
            continue
        text = path.read_text()
        assert "publish_payload(" not in text, path
        assert not re.search(r"payload\[|payload\.get\(|\.payload\b", text), path


@pytest.mark.parametrize(
    ("context", "cls", "payload"),
    [
        ("billing", "InvoiceIssued", wire.invoice_issued(str(uuid.uuid4()))),
        ("payments", "PaymentCompleted", wire.payment_completed(str(uuid.uuid4()))),
        ("payments", "PaymentFailed", wire.payment_failed(str(uuid.uuid4()))),
        ("orders", "OrderFailed", wire.order_failed(str(uuid.uuid4()))),
        ("lab", "LabResultReady", wire.lab_result_ready(str(uuid.uuid4()))),
        ("orders", "OrderPlaced", order_placed((str(uuid.uuid4()), 2))),
        ("orders", "OrderPlaced", order_placed(type="lab")),
    ],
)
def test_payloads_on_the_wire_today_read_and_write_back_unchanged(context, cls, payload):
    """Outbox rows and dead letters written before events were typed still parse, and a typed event writes
    the same JSON: same names, same value formats (money "1596.00", instants "…Z", ids as strings)."""
    event_class = getattr(CONTRACTS[context], cls)
    event = event_class.from_payload(payload)
    added_later = {f.name: f.default for f in dataclasses.fields(event_class) if f.default is not dataclasses.MISSING}
    assert event.to_payload() == {**payload, **{k: v for k, v in added_later.items() if k not in payload}}


def test_values_take_their_wire_formats():
    lab = CONTRACTS["lab"]
    event = lab.LabScheduled(
        order_id=uuid.UUID(int=1),
        patient_id=uuid.UUID(int=2),
        lab_orders=(
            lab.ScheduledLabOrder(
                lab_order_id=uuid.UUID(int=3),
                lab_test_id=uuid.UUID(int=4),
                code="CBC",
                name="Blood count",
                price=Decimal("450.00"),
                currency="INR",
                scheduled_date=date(2030, 1, 8),
            ),
        ),
        scheduled_at=datetime(2030, 1, 7, 11, 0, tzinfo=UTC),
    )
    assert event.to_payload() == {
        "order_id": "00000000-0000-0000-0000-000000000001",
        "patient_id": "00000000-0000-0000-0000-000000000002",
        "lab_orders": [
            {
                "lab_order_id": "00000000-0000-0000-0000-000000000003",
                "lab_test_id": "00000000-0000-0000-0000-000000000004",
                "code": "CBC",
                "name": "Blood count",
                "price": "450.00",
                "currency": "INR",
                "scheduled_date": "2030-01-08",
            }
        ],
        "scheduled_at": "2030-01-07T11:00:00Z",
    }
