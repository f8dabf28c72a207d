from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel

from caremesh.insurance import agents, benefits, errors, premiums, service, verification
from caremesh.insurance.domain import SchemeStatus
from caremesh.insurance.schemas import (
    AgentCreate,
    AgentFilters,
    AgentRead,
    AgentUpdate,
    BenefitCreate,
    BenefitRead,
    BenefitTermsRead,
    BenefitUpdate,
    CommissionFilters,
    CommissionPayoutCreate,
    CommissionPayoutFilters,
    CommissionPayoutRead,
    CommissionRead,
    CoverageCheckRead,
    CoverageCreate,
    CoverageFilters,
    CoverageRead,
    CoverageUpdate,
    PayerCreate,
    PayerFilters,
    PayerRead,
    PayerUpdate,
    PreauthorizationCreate,
    PreauthorizationFilters,
    PreauthorizationRead,
    PremiumBillingFilters,
    PremiumBillingRead,
    PremiumQuoteRead,
    PremiumRateCreate,
    PremiumRateRead,
    PremiumRateUpdate,
    PremiumRunRead,
    PremiumRunRequest,
    SchemeCreate,
    SchemeFilters,
    SchemeRead,
    SchemeUpdate,
    SkippedCoverage,
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
RUN_PREMIUMS, READ_PREMIUMS = require("premiums:run"), require("premiums:read")
READ_AGENTS, WRITE_AGENTS = require("agents:read"), require("agents:write")
READ_COMMISSIONS, PAY_COMMISSIONS = require("commissions:read"), require("commissions:pay")


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
    return read_model(PayerRead, payer, response)


@router.get("/payers", dependencies=[READ])
async def list_payers(
    uow: Uow, filters: Annotated[PayerFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PayerRead]:
    """With `bin` and `pcn`: the payer that card resolves to (exact BIN/PCN, else the BIN's payer without PCN)."""
    return read_page(PayerRead, await service.list_payers(uow, filters, page))


@router.get("/payers/{payer_id}", dependencies=[READ], responses=problems(errors.PayerNotFound))
async def get_payer(payer_id: uuid.UUID, uow: Uow, response: Response) -> PayerRead:
    return read_model(PayerRead, await service.get_payer(uow, payer_id), response)


@router.patch(
    "/payers/{payer_id}", dependencies=[WRITE], responses=problems(errors.PayerNotFound, errors.PayerBinPcnExists)
)
async def update_payer(
    payer_id: uuid.UUID, body: PayerUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> PayerRead:
    return read_model(PayerRead, await service.update_payer(uow, payer_id, body, if_match), response)


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


@router.patch(
    "/schemes/{scheme_id}", dependencies=[WRITE], responses=problems(errors.SchemeNotFound, errors.SchemeCodeExists)
)
async def update_scheme(
    scheme_id: uuid.UUID, body: SchemeUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> SchemeRead:
    return read_model(SchemeRead, await service.update_scheme(uow, scheme_id, body, if_match), response)


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
async def create_benefit(scheme_id: uuid.UUID, body: BenefitCreate, uow: Uow, response: Response) -> BenefitRead:
    benefit = await benefits.create_benefit(uow, scheme_id, body)
    response.headers["Location"] = f"{API_PREFIX}/schemes/{scheme_id}/benefits/{benefit.id}"
    return read_model(BenefitRead, benefit, response)


@router.get("/schemes/{scheme_id}/benefits", dependencies=[READ], responses=problems(errors.SchemeNotFound))
async def list_benefits(scheme_id: uuid.UUID, uow: Uow, page: PageParams = Depends()) -> Page[BenefitRead]:
    """Each benefit with the terms in force today at the clinic."""
    return read_page(BenefitRead, await benefits.list_benefits(uow, scheme_id, page))


@router.get(
    "/schemes/{scheme_id}/benefits/{benefit_id}",
    dependencies=[READ],
    responses=problems(errors.SchemeNotFound, errors.BenefitNotFound),
)
async def get_benefit(scheme_id: uuid.UUID, benefit_id: uuid.UUID, uow: Uow, response: Response) -> BenefitRead:
    """The benefit with the terms in force today at the clinic (`effective_from`: since when)."""
    return read_model(BenefitRead, await benefits.get_benefit(uow, scheme_id, benefit_id), response)


@router.patch(
    "/schemes/{scheme_id}/benefits/{benefit_id}",
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.BenefitNotFound),
)
async def update_benefit(
    scheme_id: uuid.UUID, benefit_id: uuid.UUID, body: BenefitUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> BenefitRead:
    """New terms from `effective_from` (default today) on: services before it keep the terms in force then. The
    answer shows the terms in force today."""
    changed = await benefits.update_benefit(uow, scheme_id, benefit_id, body, if_match)
    return read_model(BenefitRead, changed, response)


@router.get(
    "/schemes/{scheme_id}/benefits/{benefit_id}/history",
    dependencies=[READ],
    responses=problems(errors.SchemeNotFound, errors.BenefitNotFound),
)
async def benefit_history(
    scheme_id: uuid.UUID, benefit_id: uuid.UUID, uow: Uow, page: Annotated[PageParams, Depends()]
) -> Page[BenefitTermsRead]:
    """Every set of terms the benefit has had, by `effective_from`, oldest first."""
    return _in_clinic_currency(BenefitTermsRead, uow, await benefits.benefit_history(uow, scheme_id, benefit_id, page))


@router.post(
    "/schemes/{scheme_id}/premium-rates",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.PremiumRateOverlap),
)
async def create_premium_rate(
    scheme_id: uuid.UUID, body: PremiumRateCreate, uow: Uow, response: Response
) -> PremiumRateRead:
    rate = await service.create_premium_rate(uow, scheme_id, body)
    response.headers["Location"] = f"{API_PREFIX}/schemes/{scheme_id}/premium-rates/{rate.id}"
    return read_model(PremiumRateRead, InClinicCurrency(rate, uow), response)


@router.get("/schemes/{scheme_id}/premium-rates", dependencies=[READ], responses=problems(errors.SchemeNotFound))
async def list_premium_rates(scheme_id: uuid.UUID, uow: Uow, page: PageParams = Depends()) -> Page[PremiumRateRead]:
    return _in_clinic_currency(PremiumRateRead, uow, await service.list_premium_rates(uow, scheme_id, page))


@router.get(
    "/schemes/{scheme_id}/premium-rates/{rate_id}",
    dependencies=[READ],
    responses=problems(errors.SchemeNotFound, errors.PremiumRateNotFound),
)
async def get_premium_rate(scheme_id: uuid.UUID, rate_id: uuid.UUID, uow: Uow, response: Response) -> PremiumRateRead:
    rate = await service.get_premium_rate(uow, scheme_id, rate_id)
    return read_model(PremiumRateRead, InClinicCurrency(rate, uow), response)


@router.patch(
    "/schemes/{scheme_id}/premium-rates/{rate_id}",
    dependencies=[WRITE],
    responses=problems(errors.SchemeNotFound, errors.PremiumRateNotFound, errors.PremiumRateOverlap),
)
async def update_premium_rate(
    scheme_id: uuid.UUID, rate_id: uuid.UUID, body: PremiumRateUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> PremiumRateRead:
    """The band must not overlap another of the scheme (409 OVERLAPPING_PREMIUM_BANDS). Premiums already billed
    keep the amount they were billed at."""
    rate = await service.update_premium_rate(uow, scheme_id, rate_id, body, if_match)
    return read_model(PremiumRateRead, InClinicCurrency(rate, uow), response)


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
    responses=problems(PatientNotFound, errors.SchemeNotFound, errors.AgentNotFound, errors.MemberIdExists),
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


@router.patch(
    "/coverages/{coverage_id}",
    dependencies=[WRITE],
    responses=problems(errors.CoverageNotFound, errors.AgentNotFound, errors.MemberIdExists),
)
async def update_coverage(
    coverage_id: uuid.UUID, body: CoverageUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> CoverageRead:
    """Status, dates, member id and agent (`null` clears `valid_to` or `agent_id`). The patient and the scheme are
    not editable."""
    return read_model(CoverageRead, await service.update_coverage(uow, coverage_id, body, if_match), response)


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


# --- premium billing ------------------------------------------------------------------------------------


@router.post("/premium-invoices/run", dependencies=[RUN_PREMIUMS])
async def run_premiums(body: PremiumRunRequest, uow: Uow) -> PremiumRunRead:
    """Bill `period`'s premium of every coverage in force on its first day (active, within its dates, scheme
    active) at the rate for the member's age that day: billing issues one invoice of kind `premium` for each. A
    coverage is billed once per period however often, or however concurrently, this runs: later runs count it in
    `skipped` (ALREADY_BILLED), with those that have no rate for the age (NO_PREMIUM_RATE) or no live patient."""
    run = await premiums.run_premiums(uow, body.period)
    return PremiumRunRead(
        period=run.period,
        issued=run.issued,
        skipped=run.skipped,
        skipped_reasons=[SkippedCoverage(coverage_id=c, reason=r) for c, r in run.skipped_reasons],
    )


@router.get("/premium-billings", dependencies=[READ_PREMIUMS])
async def list_premium_billings(
    uow: Uow, filters: Annotated[PremiumBillingFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[PremiumBillingRead]:
    """`invoice_id` is filled in once billing has issued the premium's invoice."""
    return read_page(PremiumBillingRead, await premiums.list_premium_billings(uow, filters, page))


# --- agents and commissions -----------------------------------------------------------------------------


@router.post(
    "/agents",
    status_code=status.HTTP_201_CREATED,
    dependencies=[WRITE_AGENTS],
    responses=problems(errors.AgentCodeExists),
)
async def create_agent(body: AgentCreate, uow: Uow, response: Response) -> AgentRead:
    agent = await agents.create_agent(uow, body)
    response.headers["Location"] = f"{API_PREFIX}/agents/{agent.id}"
    return read_model(AgentRead, agent, response)


@router.get("/agents", dependencies=[READ_AGENTS])
async def list_agents(
    uow: Uow, filters: Annotated[AgentFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[AgentRead]:
    return read_page(AgentRead, await agents.list_agents(uow, filters, page))


@router.get("/agents/{agent_id}", dependencies=[READ_AGENTS], responses=problems(errors.AgentNotFound))
async def get_agent(agent_id: uuid.UUID, uow: Uow, response: Response) -> AgentRead:
    return read_model(AgentRead, await agents.get_agent(uow, agent_id), response)


@router.patch("/agents/{agent_id}", dependencies=[WRITE_AGENTS], responses=problems(errors.AgentNotFound))
async def update_agent(
    agent_id: uuid.UUID, body: AgentUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> AgentRead:
    """A new percent applies to premiums billed from now on; those billed keep the percent of their day."""
    return read_model(AgentRead, await agents.update_agent(uow, agent_id, body, if_match), response)


@router.get("/commissions", dependencies=[READ_COMMISSIONS])
async def list_commissions(
    uow: Uow, filters: Annotated[CommissionFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[CommissionRead]:
    """A commission accrues once per premium invoice paid, for the agent recorded when the premium was billed."""
    return read_page(CommissionRead, await agents.list_commissions(uow, filters, page))


@router.post(
    "/commission-payouts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[PAY_COMMISSIONS],
    responses=problems(errors.AgentNotFound, errors.NothingToPay),
)
async def pay_commissions(body: CommissionPayoutCreate, uow: Uow) -> CommissionPayoutRead:
    """Pay every commission of the agent and period accrued until now (they become `paid`). Nothing left to pay
    (already paid, or none accrued) → 409 NOTHING_TO_PAY; a commission accrued after a payout is paid by the next
    payout of its period."""
    return read_model(CommissionPayoutRead, await agents.pay_commissions(uow, body))


@router.get("/commission-payouts", dependencies=[READ_COMMISSIONS])
async def list_commission_payouts(
    uow: Uow, filters: Annotated[CommissionPayoutFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[CommissionPayoutRead]:
    return read_page(CommissionPayoutRead, await agents.list_payouts(uow, filters, page))
