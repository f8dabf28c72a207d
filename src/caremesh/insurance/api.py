from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel

from caremesh.insurance import errors, service, verification
from caremesh.insurance.domain import SchemeStatus
from caremesh.insurance.schemas import (
    BenefitCreate,
    BenefitRead,
    CoverageCheckRead,
    CoverageCreate,
    CoverageFilters,
    CoverageRead,
    PayerCreate,
    PayerFilters,
    PayerRead,
    PreauthorizationCreate,
    PreauthorizationFilters,
    PreauthorizationRead,
    PremiumQuoteRead,
    PremiumRateCreate,
    PremiumRateRead,
    SchemeCreate,
    SchemeFilters,
    SchemeRead,
    VerificationRead,
    VerifyRequest,
)
from caremesh.patients.contract import PatientNotFound
from caremesh.platform.api import API_PREFIX, IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.mapping import InClinicCurrency
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

ReadT = TypeVar("ReadT", bound=BaseModel)

router = APIRouter(tags=["insurance"], route_class=TransactionalRoute)

READ, WRITE, VERIFY = require("insurance:read"), require("insurance:write"), require("coverage:verify")


def _in_clinic_currency(schema: type[ReadT], uow: Uow, listed: tuple[Sequence[Any], str | None]) -> Page[ReadT]:
    """A page of benefits or premium rates: their amounts are in the clinic's currency, which the rows do not store."""
    rows, cursor = listed
    return read_page(schema, ([InClinicCurrency(row, uow) for row in rows], cursor))


# --- payers ---------------------------------------------------------------------------------------------


@router.post(
    "/payers",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.PayerBinPcnExists, errors.PayerCodeExists),
)
async def create_payer(body: PayerCreate, uow: Uow, response: Response) -> PayerRead:
    payer = await service.create_payer(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/payers/{payer.id}"
    return read_model(PayerRead, payer)


@router.get("/payers", dependencies=[READ])
async def list_payers(
    uow: Uow, filters: Annotated[PayerFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PayerRead]:
    """With `bin` and `pcn`: the payer that card resolves to (exact BIN/PCN, else the BIN's payer without PCN)."""
    return read_page(PayerRead, await service.list_payers(uow, filters, page))


@router.get("/payers/{payer_id}", dependencies=[READ], responses=problems(errors.PayerNotFound))
async def get_payer(payer_id: uuid.UUID, uow: Uow) -> PayerRead:
    return read_model(PayerRead, await service.get_payer(uow, payer_id))


# --- schemes --------------------------------------------------------------------------------------------


@router.post(
    "/schemes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.PayerNotFound, errors.SchemeCodeExists),
)
async def create_scheme(body: SchemeCreate, uow: Uow, response: Response) -> SchemeRead:
    scheme = await service.create_scheme(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/schemes/{scheme.id}"
    return read_model(SchemeRead, scheme, response)


@router.get("/schemes", dependencies=[READ])
async def list_schemes(
    uow: Uow, filters: Annotated[SchemeFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[SchemeRead]:
    return read_page(SchemeRead, await service.list_schemes(uow, filters, page))


@router.get("/schemes/{scheme_id}", dependencies=[READ], responses=problems(errors.SchemeNotFound))
async def get_scheme(scheme_id: uuid.UUID, uow: Uow, response: Response) -> SchemeRead:
    return read_model(SchemeRead, await service.get_scheme(uow, scheme_id), response)


@router.post(
    "/schemes/{scheme_id}/suspend",
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.InvalidStatusTransition),
)
async def suspend_scheme(scheme_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> SchemeRead:
    return read_model(
        SchemeRead, await service.set_scheme_status(uow, scheme_id, SchemeStatus.SUSPENDED, if_match), response
    )


@router.post(
    "/schemes/{scheme_id}/activate",
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.InvalidStatusTransition),
)
async def activate_scheme(scheme_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> SchemeRead:
    return read_model(
        SchemeRead, await service.set_scheme_status(uow, scheme_id, SchemeStatus.ACTIVE, if_match), response
    )


# --- benefits and premium rates -------------------------------------------------------------------------


@router.post(
    "/schemes/{scheme_id}/benefits",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.BenefitExists),
)
async def create_benefit(scheme_id: uuid.UUID, body: BenefitCreate, uow: Uow) -> BenefitRead:
    return read_model(
        BenefitRead,
        InClinicCurrency(await service.create_benefit(uow, scheme_id, body), uow),
    )


@router.get("/schemes/{scheme_id}/benefits", dependencies=[READ], responses=problems(errors.SchemeNotFound))
async def list_benefits(scheme_id: uuid.UUID, uow: Uow, page: PageParams = Depends()) -> Page[BenefitRead]:
    return _in_clinic_currency(BenefitRead, uow, await service.list_benefits(uow, scheme_id, page))


@router.post(
    "/schemes/{scheme_id}/premium-rates",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.PremiumRateOverlap),
)
async def create_premium_rate(scheme_id: uuid.UUID, body: PremiumRateCreate, uow: Uow) -> PremiumRateRead:
    return read_model(
        PremiumRateRead,
        InClinicCurrency(await service.create_premium_rate(uow, scheme_id, body), uow),
    )


@router.get("/schemes/{scheme_id}/premium-rates", dependencies=[READ], responses=problems(errors.SchemeNotFound))
async def list_premium_rates(scheme_id: uuid.UUID, uow: Uow, page: PageParams = Depends()) -> Page[PremiumRateRead]:
    return _in_clinic_currency(PremiumRateRead, uow, await service.list_premium_rates(uow, scheme_id, page))


@router.get(
    "/schemes/{scheme_id}/premium-quote",
    dependencies=[READ],
    responses=problems(errors.NoPremiumRate, errors.SchemeNotFound),
)
async def premium_quote(scheme_id: uuid.UUID, uow: Uow, date_of_birth: date) -> PremiumQuoteRead:
    quote = await service.premium_quote(uow, scheme_id, date_of_birth)
    return PremiumQuoteRead(
        scheme_id=scheme_id,
        date_of_birth=date_of_birth,
        on=quote.on,
        age=quote.age,
        premium_rate_id=quote.rate.id,
        min_age=quote.rate.min_age,
        max_age=quote.rate.max_age,
        monthly_premium=quote.rate.monthly_premium,
        currency=uow.settings.app.currency,
    )


# --- coverages ------------------------------------------------------------------------------------------


@router.post(
    "/coverages",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(PatientNotFound, errors.SchemeNotFound, errors.MemberIdExists),
)
async def create_coverage(body: CoverageCreate, uow: Uow, response: Response) -> CoverageRead:
    coverage = await service.create_coverage(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/coverages/{coverage.id}"
    return read_model(CoverageRead, coverage, response)


@router.get("/coverages", dependencies=[READ])
async def list_coverages(
    uow: Uow, filters: Annotated[CoverageFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[CoverageRead]:
    return read_page(CoverageRead, await service.list_coverages(uow, filters, page))


@router.get("/coverages/{coverage_id}", dependencies=[READ], responses=problems(errors.CoverageNotFound))
async def get_coverage(coverage_id: uuid.UUID, uow: Uow, response: Response) -> CoverageRead:
    return read_model(CoverageRead, await service.get_coverage(uow, coverage_id), response)


@router.post(
    "/coverages/{coverage_id}/deactivate",
    dependencies=[WRITE],
    responses=problems(errors.CoverageNotFound, errors.InvalidStatusTransition),
)
async def deactivate_coverage(coverage_id: uuid.UUID, uow: Uow, if_match: IfMatch, response: Response) -> CoverageRead:
    return read_model(CoverageRead, await service.deactivate_coverage(uow, coverage_id, if_match), response)


# --- pre-authorisations ---------------------------------------------------------------------------------


@router.post(
    "/preauthorizations",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.CoverageNotFound),
)
async def create_preauthorization(body: PreauthorizationCreate, uow: Uow, response: Response) -> PreauthorizationRead:
    preauth = await service.create_preauthorization(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/preauthorizations/{preauth.id}"
    return read_model(PreauthorizationRead, preauth)


@router.get("/preauthorizations", dependencies=[READ])
async def list_preauthorizations(
    uow: Uow, filters: Annotated[PreauthorizationFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PreauthorizationRead]:
    return read_page(PreauthorizationRead, await service.list_preauthorizations(uow, filters, page))


@router.get("/preauthorizations/{preauth_id}", dependencies=[READ], responses=problems(errors.PreauthorizationNotFound))
async def get_preauthorization(preauth_id: uuid.UUID, uow: Uow) -> PreauthorizationRead:
    return read_model(PreauthorizationRead, await service.get_preauthorization(uow, preauth_id))


# --- verification ---------------------------------------------------------------------------------------


@router.post("/coverage/verify", dependencies=[VERIFY], responses=problems(PatientNotFound))
async def verify_coverage(body: VerifyRequest, uow: Uow) -> VerificationRead:
    """What the payer and the patient would pay for a service on `service_date`. Never moves accumulators."""
    found = await verification.verify_coverage(uow, body.patient_id, body.category, body.amount, body.service_date)
    return read_model(VerificationRead, InClinicCurrency(found, uow))


@router.get("/coverage/check/{member_id}", dependencies=[VERIFY])
async def check_member(member_id: str, uow: Uow) -> CoverageCheckRead:
    """The member's coverages that apply today at the clinic (active, within their dates, scheme active)."""
    on, rows = await service.check_member(uow, member_id)
    return CoverageCheckRead(member_id=member_id, on=on, coverages=[read_model(CoverageRead, c) for c in rows])
