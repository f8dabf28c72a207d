"""Load, see and list one aggregate the same way in every context.

A context declares one `Repository` per aggregate it serves by id (usually at the top of its `service.py` or in a
`repository.py`) and its use cases call `get`, `load`, `query` and `page` instead of writing the same
load-or-404 / visible-to-this-principal / list-and-audit code again:

    ORDERS = Repository(Order, OrderNotFound, entity="order", owner=Order.patient_id, record=audit.record)

(contexts declare theirs through `audit.repository(...)`, which passes the audit trail's `record`)

- **Visible**: a patient-role principal sees only the rows whose `owner` column is their patient id; every other
  row does not exist for them (404, not 403: existence is not disclosed). `where` criteria apply to everyone
  (a soft-deleted patient, a pending payment).
- **Locking** is the same everywhere: `load(..., for_update=True)` takes the row lock and re-reads the row from
  the database (an object already in the session is refreshed), so what the caller checks is what is locked.
  `load_version` adds the If-Match check every edit starts with.
- **Audited**: `get` records `<entity>.read`; `page` records `<entity>.list` and, unless told otherwise,
  `<entity>.list_read` for every row it returns; a repository of reference data (tariffs, catalogues, payers)
  is declared with `audit_lists=False` and its lists record nothing. The recorder is passed in (`audit.record`):
  the platform knows no context.
- **Listed** with `list(uow, filters, params)`: `filters` is the list endpoint's query parameters as one frozen
  dataclass (a FastAPI dependency, see `ListFilters`); every field that is not None narrows the list by
  `model.<field> == value`, or by the repository's own `criteria[<field>](value)` where the field is not a plain
  column (a range, a search, a renamed parameter). The order is the repository's `order_by`.
- The by-id statements are built once, with bound parameters (no per-call statement building).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import flag_modified

from caremesh.platform.errors import check_version
from caremesh.platform.pagination import PageParams, paginate
from caremesh.platform.uow import UnitOfWork

RowT = TypeVar("RowT")


class Recorder(Protocol):
    def __call__(
        self, uow: UnitOfWork, action: str, entity_type: str, entity_id: uuid.UUID | str | None = None
    ) -> None: ...


class ListFilters:
    """Base of a list endpoint's query parameters: subclass it as a frozen, keyword-only dataclass whose fields
    default to None (or to `Query(None, alias=..., description=...)`), and take it as `Annotated[F, Depends()]`
    beside `PageParams`. FastAPI documents and validates each field as a query parameter."""

    def given(self) -> dict[str, Any]:
        """The filters the client gave: every field that is not None."""
        values = ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return {name: value for name, value in values if value is not None}


Criterion = Callable[[Any], ColumnElement[bool]]


class Repository(Generic[RowT]):
    def __init__(
        self,
        model: type[RowT],
        not_found: Callable[..., Exception],
        *,
        entity: str,
        record: Recorder,
        owner: InstrumentedAttribute[Any] | None = None,
        where: Sequence[ColumnElement[bool]] = (),
        key: InstrumentedAttribute[Any] | None = None,
        detail: Callable[[Any], str] | None = None,
        order_by: Sequence[InstrumentedAttribute[Any]] = (),
        criteria: Mapping[str, Criterion] | None = None,
        audit_lists: bool = True,
    ) -> None:
        self.model = model
        self.audit_lists = audit_lists
        self.order_by = tuple(order_by)
        self.criteria = dict(criteria or {})
        self.not_found = not_found
        self.detail = detail
        self.entity = entity
        self.record = record
        self.owner = owner
        self.where = tuple(where)
        key = key if key is not None else model.id  # type: ignore[attr-defined]
        by_key = select(model).where(key == bindparam("key"), *self.where)
        self._by_key = by_key
        self._by_key_locked = by_key.with_for_update().execution_options(populate_existing=True)
        if owner is not None:
            owned = by_key.where(owner == bindparam("owner"))
            self._owned = owned
            self._owned_locked = owned.with_for_update().execution_options(populate_existing=True)

    def _confined_to(self, uow: UnitOfWork) -> uuid.UUID | None:
        """The patient id a patient-role principal is confined to, or None when this repository's rows are all
        visible to the principal. A patient-role principal with no patient record sees nothing."""
        actor = uow.actor
        if self.owner is None or actor is None or not actor.is_patient_only:
            return None
        return actor.patient_id or uuid.UUID(int=0)

    def may_see(self, uow: UnitOfWork, owner_id: uuid.UUID) -> bool:
        """Whether the principal may see (or act for) rows owned by `owner_id`."""
        confined = self._confined_to(uow)
        return confined is None or confined == owner_id

    def visible(self, uow: UnitOfWork, query: Select[Any]) -> Select[Any]:
        """`query` narrowed to the rows the unit of work's principal may see (the `where` criteria not included)."""
        confined = self._confined_to(uow)
        return query if confined is None else query.where(self.owner == confined)

    def query(self, uow: UnitOfWork) -> Select[tuple[RowT]]:
        """Every row the principal may see: the start of a list query."""
        return self.visible(uow, select(self.model).where(*self.where))

    async def find(self, uow: UnitOfWork, key: Any, *, for_update: bool = False) -> RowT | None:
        """The visible row with this key, or None. `for_update` locks it and re-reads it."""
        confined = self._confined_to(uow)
        if confined is None:
            statement = self._by_key_locked if for_update else self._by_key
            return await uow.session.scalar(statement, {"key": key})
        statement = self._owned_locked if for_update else self._owned
        return await uow.session.scalar(statement, {"key": key, "owner": confined})

    async def load(self, uow: UnitOfWork, key: Any, *, for_update: bool = False) -> RowT:
        """The visible row with this key, else the context's not-found error. Records nothing."""
        row = await self.find(uow, key, for_update=for_update)
        if row is None:
            raise self.not_found(self.detail(key)) if self.detail else self.not_found()  # type: ignore[call-arg]
        return row

    async def load_version(self, uow: UnitOfWork, key: Any, expected_version: int | None) -> RowT:
        """The row locked and re-read, then the If-Match check (`VERSION_CONFLICT`): what every edit starts with."""
        row = await self.load(uow, key, for_update=True)
        check_version(row.version, expected_version)  # type: ignore[attr-defined]
        return row

    async def get(self, uow: UnitOfWork, key: Any) -> RowT:
        """`load`, recorded in the audit trail as `<entity>.read`."""
        row = await self.load(uow, key)
        self.record(uow, f"{self.entity}.read", self.entity, _id_of(row))
        return row

    async def page(
        self,
        uow: UnitOfWork,
        query: Select[Any],
        *,
        order_by: Sequence[InstrumentedAttribute[Any]],
        params: PageParams,
        record_each: bool = True,
    ) -> tuple[list[RowT], str | None]:
        """One page of `query` (start it from `query(uow)`), recorded as `<entity>.list` and, with `record_each`,
        `<entity>.list_read` per row returned."""
        rows, cursor = await paginate(uow.session, query, order_by=order_by, params=params)
        if not self.audit_lists:
            return rows, cursor
        self.record(uow, f"{self.entity}.list", self.entity, None)
        if record_each:
            for row in rows:
                self.record(uow, f"{self.entity}.list_read", self.entity, _id_of(row))
        return rows, cursor

    async def updated(self, uow: UnitOfWork, row: RowT, changes: Iterable[str]) -> tuple[str, ...]:
        """After an edit of `row`: when anything changed, its `updated_at` and a flush (a new version, also when
        only child rows changed); recorded as `<entity>.update` either way. The changed names, sorted."""
        changed = tuple(sorted(changes))
        if changed:
            row.updated_at = uow.now()  # type: ignore[attr-defined]
            flag_modified(row, "updated_at")
            await uow.session.flush()
        self.record(uow, f"{self.entity}.update", self.entity, _id_of(row))
        return changed

    async def soft_delete(self, uow: UnitOfWork, row: RowT) -> None:
        """Mark the row deleted now (it stays, hidden by the repository's `where`), recorded as `<entity>.delete`."""
        row.deleted_at = uow.now()  # type: ignore[attr-defined]
        row.updated_at = row.deleted_at  # type: ignore[attr-defined]
        await uow.session.flush()
        self.record(uow, f"{self.entity}.delete", self.entity, _id_of(row))

    def matching(self, uow: UnitOfWork, filters: ListFilters | None) -> Select[tuple[RowT]]:
        """The visible rows that match every filter given."""
        query = self.query(uow)
        for name, value in (filters.given() if filters else {}).items():
            criterion = self.criteria.get(name)
            query = query.where(criterion(value) if criterion else getattr(self.model, name) == value)
        return query

    async def list(
        self, uow: UnitOfWork, filters: ListFilters | None, params: PageParams, *, record_each: bool = True
    ) -> tuple[list[RowT], str | None]:
        """One page of the visible rows matching `filters`, in `order_by`, audited as `page` is."""
        query = self.matching(uow, filters)
        return await self.page(uow, query, order_by=self.order_by, params=params, record_each=record_each)


def _id_of(row: Any) -> Any:
    return row.id
