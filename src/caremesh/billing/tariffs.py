"""Tariffs: the defaults, their editing, and the consultation tariff that prices a visit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.billing import domain
from caremesh.billing.domain import Kind
from caremesh.billing.errors import ConsultationTariffExists, NoApplicableTariff, TariffExists, TariffNotFound
from caremesh.billing.models import ONE_CONSULTATION_TARIFF_PER_SPECIALTY, Tariff
from caremesh.billing.schemas import Pricing, TariffCreate, TariffFilters, TariffUpdate
from caremesh.platform.db import dialect_insert, violates
from caremesh.platform.errors import invalid_field
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import changes_of
from caremesh.platform.uow import UnitOfWork

GENERAL_CONSULTATION = "CONSULT-GENERAL"
# The tariffs whose tax rate an order's invoice uses; a flat amount above zero adds a per-order fee line.
ORDER_TARIFFS = {Kind.MEDICATION: "ORDER-MEDICATION", Kind.LAB: "ORDER-LAB"}

_PRICING = TypeAdapter(Pricing)

# The years of experience API.md's default consultation tariffs price in bands: 0-19, 20-30, 31 and more.
DEFAULT_BANDS = ((0, 19), (20, 30), (31, None))


def _by_experience(*amounts: str) -> dict[str, Any]:
    """Pricing by the practitioner's experience in the default bands, one amount per band."""
    bands = [
        {"min_years": low, "max_years": high, "amount": amount}
        for (low, high), amount in zip(DEFAULT_BANDS, amounts, strict=True)
    ]
    return {"type": "experience_bands", "bands": bands}


DEFAULT_TARIFFS: tuple[dict[str, Any], ...] = (
    {
        "code": "CONSULT-ORTHOPEDICS",
        "description": "Orthopedics consultation",
        "kind": Kind.CONSULTATION,
        "specialty": "orthopedics",
        "pricing": _by_experience("800.00", "1000.00", "1500.00"),
    },
    {
        "code": "CONSULT-CARDIOLOGY",
        "description": "Cardiology consultation",
        "kind": Kind.CONSULTATION,
        "specialty": "cardiology",
        "pricing": _by_experience("1000.00", "1500.00", "2000.00"),
    },
    {
        "code": GENERAL_CONSULTATION,
        "description": "Consultation, every other specialty (per hour)",
        "kind": Kind.CONSULTATION,
        "specialty": None,
        "pricing": {"type": "hourly", "rate": "200.00", "round_up_after_minutes": 10},
    },
    {
        "code": ORDER_TARIFFS[Kind.MEDICATION],
        "description": "Prescriptions: tax rate, and a dispensing fee per order when above zero",
        "kind": Kind.MEDICATION,
        "specialty": None,
        "pricing": {"type": "flat", "amount": "0.00"},
    },
    {
        "code": ORDER_TARIFFS[Kind.LAB],
        "description": "Lab orders: tax rate, and a collection fee per order when above zero",
        "kind": Kind.LAB,
        "specialty": None,
        "pricing": {"type": "flat", "amount": "0.00"},
    },
)


# Reference data: its lists are not audited.
TARIFFS: Repository[Tariff] = audit.repository(
    Tariff,
    TariffNotFound,
    entity="tariff",
    key=Tariff.code,
    audit_lists=False,
    order_by=[Tariff.code],
)


def _tax_rate(uow: UnitOfWork, tariff: Tariff) -> Decimal:
    return uow.settings.billing.tax_rate if tariff.tax_rate is None else tariff.tax_rate


def _pricing_json(pricing: Any) -> dict[str, Any]:
    return pricing.model_dump(mode="json")


def _pricing(tariff: Tariff) -> domain.Pricing:
    return _PRICING.validate_python(tariff.pricing).to_domain()


def _new_tariff(data: TariffCreate, now: datetime) -> dict[str, Any]:
    """The columns of a new tariff: what `data` gives (a create body, or a default), its pricing as JSON."""
    return {
        **data.model_dump(exclude={"pricing"}),
        "pricing": _pricing_json(data.pricing),
        "created_at": now,
        "updated_at": now,
    }


async def bootstrap(uow: UnitOfWork) -> None:
    """Create the default tariffs that are missing; existing ones (maybe edited) are left alone, and so is a
    default whose specialty another consultation tariff took. One statement that skips whatever conflicts on a
    unique key, so processes starting at once on one database each run it safely."""
    now = uow.now()
    # The defaults are read as the create body is, and carry the version the ORM would set.
    rows = [{**_new_tariff(TariffCreate.model_validate(default), now), "version": 1} for default in DEFAULT_TARIFFS]
    await uow.session.execute(dialect_insert(uow.session)(Tariff).values(rows).on_conflict_do_nothing())


async def _flush_tariff(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
    except IntegrityError as error:
        # SQLite names the columns of a failed unique index, PostgreSQL the index.
        if violates(error, ONE_CONSULTATION_TARIFF_PER_SPECIALTY) or violates(error, "tariffs.specialty"):
            raise ConsultationTariffExists() from error
        if violates(error, "pk_tariffs") or violates(error, "tariffs.code"):
            raise TariffExists() from error
        raise


async def _check_specialty_free(uow: UnitOfWork, kind: str, specialty: str | None, code: str) -> None:
    if kind != Kind.CONSULTATION or specialty is None:
        return
    other = await uow.session.scalar(
        select(Tariff.code).where(Tariff.kind == Kind.CONSULTATION, Tariff.specialty == specialty, Tariff.code != code)
    )
    if other is not None:
        raise ConsultationTariffExists(f"{other} already prices {specialty} consultations.")


async def create_tariff(uow: UnitOfWork, data: TariffCreate) -> Tariff:
    if await TARIFFS.find(uow, data.code) is not None:
        raise TariffExists(f"A tariff with code {data.code} exists.")
    await _check_specialty_free(uow, data.kind, data.specialty, data.code)
    now = uow.now()
    tariff = Tariff(**_new_tariff(data, now))
    uow.session.add(tariff)
    await _flush_tariff(uow)
    audit.record(uow, "tariff.create", "tariff", tariff.code)
    return tariff


async def get_tariff(uow: UnitOfWork, code: str) -> Tariff:
    return await TARIFFS.load(uow, code.upper())


async def list_tariffs(uow: UnitOfWork, filters: TariffFilters, page: PageParams) -> tuple[list[Tariff], str | None]:
    """Tariffs in order of code; reference data, so not audited."""
    return await TARIFFS.list(uow, filters, page)


async def update_tariff(uow: UnitOfWork, code: str, data: TariffUpdate, expected_version: int | None) -> Tariff:
    """Change what the body names. Invoices already issued keep the prices they were issued with."""
    tariff = await TARIFFS.load_version(uow, code.upper(), expected_version)
    changes = changes_of(data)
    if "specialty" in changes:
        await _check_specialty_free(uow, tariff.kind, data.specialty, tariff.code)
        tariff.specialty = data.specialty
    if "description" in changes:
        tariff.description = data.description
    if "pricing" in changes:
        if tariff.code in ORDER_TARIFFS.values() and data.pricing is not None and data.pricing.type != "flat":
            raise invalid_field("pricing", "an order tariff is flat: its amount is a fee per order")
        tariff.pricing = _pricing_json(data.pricing)
    if "tax_rate" in changes:
        tariff.tax_rate = data.tax_rate
    if changes:
        tariff.updated_at = uow.now()
        await _flush_tariff(uow)
    audit.record(uow, "tariff.update", "tariff", tariff.code)
    return tariff


async def consultation_tariff(uow: UnitOfWork, specialty: str) -> Tariff:
    """The consultation tariff of the specialty, else CONSULT-GENERAL."""
    tariff = await uow.session.scalar(
        select(Tariff).where(Tariff.kind == Kind.CONSULTATION, Tariff.specialty == specialty)
    )
    tariff = tariff or await TARIFFS.find(uow, GENERAL_CONSULTATION)
    if tariff is None:
        raise NoApplicableTariff(f"No consultation tariff for {specialty} and no {GENERAL_CONSULTATION}.")
    return tariff
