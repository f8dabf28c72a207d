"""What the participants of the order saga share: the contexts that fulfil an order's items (pharmacy holds stock
for a prescription; lab and imaging hold capacity per day for lab tests and imaging studies, `platform.capacity`).
No business rule lives here, and no context: what to hold, how and why it is refused stay in each participant's
own package.

Every participant takes the same three steps, one transaction per event, serialised per order by its own row for
the order (`ParticipantOrder`, locked first by every step):

  order.placed                     take: hold what each item needs, all or nothing, or refuse (giving back what was
                                   held in the same transaction); answer taken / refused
  order.confirmed                  confirm: what is held may now be used (dispensed, resulted)
  order.failed, order.cancelled    give back what is still held, remember the order is closed (an order.placed
                                   delivered late then holds nothing); answer given back when something was

It answers with events keyed by the order id (`OrderAnswer`), which orders' saga consumes. `Participant` wires the
three steps to the saga's events for the one order type it serves; the events and the order type come from orders'
contract, which the platform does not know.

What an order's items name is the participant's catalogue (medications, lab tests): rows with a unique code, priced
in the clinic's currency, read and listed without audit. `Catalogue` adds, loads and lists them the same way for
each; what else an entry holds, and how it changes, is the participant's.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy import Integer, String, Uuid, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Mapped, declared_attr, mapped_column

from caremesh.platform.db import UTCDateTime, dialect_insert, new_id, violates
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import ListFilters, Repository
from caremesh.platform.search import matches_every_word

if TYPE_CHECKING:
    from caremesh.platform.repository import Recorder
    from caremesh.platform.uow import UnitOfWork


# --- the answers ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderAnswer(IntegrationEvent):
    """An answer to the order saga: it names the order (and its patient) first."""

    order_id: uuid.UUID
    patient_id: uuid.UUID


# --- the participant's record of an order ---------------------------------------------------------


class ParticipantOrder:
    """Columns of a participant's row for each order it heard of (a mixin of its model): confirmed (what it holds
    may be used), closed (failed or cancelled: it holds nothing for it any more). The row is also the lock that
    serialises the order's steps in the participant."""

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


OrderRowT = TypeVar("OrderRowT", bound=ParticipantOrder)


async def lock_order(uow: UnitOfWork, model: type[OrderRowT], order_id: uuid.UUID, **new: Any) -> OrderRowT:
    """The participant's row for the order, created with `new` if it is the first the participant hears of it,
    locked until the transaction ends and read afresh. One upsert: on PostgreSQL it takes the row lock (a step of
    the same order arriving at the same time waits for this one's commit, then finds the row); SQLite's
    transactions are serial."""
    statement = dialect_insert(uow.session)(model).values(order_id=order_id, **new)
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[model.order_id], set_={"order_id": order_id})
    )
    row: OrderRowT = await uow.session.scalar(
        select(model).where(model.order_id == order_id).execution_options(populate_existing=True)
    )
    return row


async def find_locked_order(uow: UnitOfWork, model: type[OrderRowT], order_id: uuid.UUID) -> OrderRowT | None:
    """The participant's row for the order, locked and read afresh, or None when it never heard of the order."""
    row: OrderRowT | None = await uow.session.scalar(
        select(model).where(model.order_id == order_id).with_for_update().execution_options(populate_existing=True)
    )
    return row


async def close_order(
    uow: UnitOfWork,
    model: type[OrderRowT],
    order_id: uuid.UUID,
    now: datetime,
    *,
    new: Mapping[str, Any] | None = None,
    **why: Any,
) -> OrderRowT:
    """The participant's row for the order, locked (created with `new` if it is the first the participant hears of
    it), and closed at `now` with `why` (the participant's own columns) unless it was closed before: from then on
    an order.placed delivered late holds nothing."""
    row = await lock_order(uow, model, order_id, **(new or {}))
    if row.closed_at is None:
        row.closed_at = now
        for column, value in why.items():
            setattr(row, column, value)
        await uow.session.flush()
    return row


class OrderItemRow(Protocol):
    """What a participant holds for one item of an order (a reservation, a lab order): columns of its model."""

    order_id: Mapped[uuid.UUID]
    position: Mapped[int]


ItemRowT = TypeVar("ItemRowT", bound=OrderItemRow)


async def items_of(
    uow: UnitOfWork, model: type[ItemRowT], order_id: uuid.UUID, *, for_update: bool = False
) -> list[ItemRowT]:
    """What the participant holds for the order's items, in the items' order, read afresh; `for_update` locks it."""
    query = select(model).where(model.order_id == order_id).order_by(model.position)
    if for_update:
        query = query.with_for_update()
    return list(await uow.session.scalars(query.execution_options(populate_existing=True)))


# --- the three steps, wired to the saga's events ----------------------------------------------------


class SagaEvent(Protocol):
    """What every order saga event says: which order, of which type."""

    @property
    def order_id(self) -> uuid.UUID: ...

    @property
    def type(self) -> str: ...


E = TypeVar("E", bound=IntegrationEvent)
Step = Callable[["UnitOfWork", Any, Envelope], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Participant:
    """A context's part in the order saga: its consumer name, the one order type it serves (the others' events it
    ignores), and its three steps."""

    consumer: str
    order_type: str
    take: Step  # order.placed
    confirm: Step  # order.confirmed
    give_back: Step  # order.failed, order.cancelled

    def subscriptions(
        self, *, placed: type[E], confirmed: type[E], closing: Iterable[type[E]]
    ) -> list[Subscription[Any]]:
        """The participant's consumers of the saga's events (whose classes the caller takes from orders' contract)."""
        wiring = [(placed, self.take), (confirmed, self.confirm), *((event, self.give_back) for event in closing)]
        return [Subscription(self.consumer, event, self._serving(step)) for event, step in wiring]

    def _serving(self, step: Step) -> Step:
        async def handle(uow: UnitOfWork, event: SagaEvent, envelope: Envelope) -> None:
            if event.type == self.order_type:
                await step(uow, event, envelope)

        handle.__name__ = handle.__qualname__ = getattr(step, "__name__", "step")
        return handle


# --- the catalogue ----------------------------------------------------------------------------------


class CatalogueEntry:
    """Columns every catalogue entry has (a mixin of the participant's model): a unique code, a name, the currency
    it is priced in (the clinic's when created), its version (optimistic locking) and when it was created and last
    changed. What it costs and what else it holds are the participant's columns."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


EntryT = TypeVar("EntryT", bound=CatalogueEntry)


class Catalogue(Generic[EntryT]):
    """A participant's catalogue: `model` has a unique `code` (stored upper-case), a `currency` and `created_at` /
    `updated_at`. Entries are loaded through `entries` (404 with `not_found`) and listed in `order_by`, by `code`
    and by a `q` whose every word appears in one of the `search` columns; the catalogue names no patient, so
    its reads are not audited. `code_taken(code)` is the participant's 409 for a code in use, `unique` how the
    database names a taken code (the constraint on PostgreSQL, the column on SQLite), `code_raced(code)` the error
    when a concurrent create of the same code won the race (by default `code_taken`)."""

    def __init__(
        self,
        model: type[EntryT],
        not_found: Callable[..., Exception],
        *,
        entity: str,
        record: Recorder,
        order_by: Sequence[InstrumentedAttribute[Any]],
        search: Sequence[InstrumentedAttribute[Any]],
        code_taken: Callable[[str], Exception],
        unique: tuple[str, ...],
        code_raced: Callable[[str], Exception] | None = None,
    ) -> None:
        code_column = model.code
        self.entries: Repository[EntryT] = Repository(
            model,
            not_found,
            entity=entity,
            record=record,
            audit_lists=False,
            order_by=order_by,
            criteria={
                "code": lambda code: code_column == code.strip().upper(),
                "q": lambda q: matches_every_word(q, *search),
            },
        )
        self.code_taken = code_taken
        self.code_raced = code_raced or code_taken
        self.unique = unique

    async def list(self, uow: UnitOfWork, filters: ListFilters, page: PageParams) -> tuple[list[EntryT], str | None]:
        """One page of the entries matching `filters` (`code`, `q`), in the catalogue's order; not audited."""
        return await self.entries.list(uow, filters, page)

    async def add(self, uow: UnitOfWork, *, code: str, **fields: Any) -> EntryT:
        """A new entry with `code` and `fields`, in the clinic's currency, recorded as `<entity>.create`."""
        model = self.entries.model
        if await uow.session.scalar(select(model.id).where(model.code == code)) is not None:
            raise self.code_taken(code)
        now = uow.now()
        entry = model(code=code, **fields, currency=uow.settings.app.currency, created_at=now, updated_at=now)
        uow.session.add(entry)
        try:
            await uow.session.flush()
        except IntegrityError as error:  # a concurrent create of the same code won the race
            if any(violates(error, name) for name in self.unique):
                raise self.code_raced(code) from error
            raise
        entity = self.entries.entity
        self.entries.record(uow, f"{entity}.create", entity, entry.id)
        return entry
