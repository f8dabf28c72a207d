"""How insurance loads, sees and lists its aggregates (see `platform.repository`).

A patient-role principal sees only their own coverages, and the pre-authorisations of those; every other row does
not exist for them. Claims and billing reach a coverage through the contract, as the clinic: `ANY_COVERAGE`.
"""

from __future__ import annotations

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.insurance.errors import (
    AgentNotFound,
    BenefitNotFound,
    CommissionNotFound,
    CommissionPayoutNotFound,
    CoverageNotFound,
    PayerNotFound,
    PreauthorizationNotFound,
    PremiumBillingNotFound,
    PremiumRateNotFound,
    SchemeNotFound,
)
from caremesh.insurance.models import (
    Agent,
    Benefit,
    Commission,
    CommissionPayout,
    Coverage,
    Payer,
    Preauthorization,
    PremiumBilling,
    PremiumRate,
    Scheme,
)

PAYERS = audit.repository(
    Payer,
    PayerNotFound,
    entity="payer",
    audit_lists=False,
    order_by=[Payer.code],
    criteria={"code": lambda code: Payer.code == code.strip().upper()},
)
SCHEMES = audit.repository(
    Scheme, SchemeNotFound, entity="scheme", audit_lists=False, order_by=[Scheme.code, Scheme.id]
)
COVERAGES = audit.repository(
    Coverage,
    CoverageNotFound,
    entity="coverage",
    owner=Coverage.patient_id,
    order_by=[Coverage.created_at, Coverage.id],
)
ANY_COVERAGE = audit.repository(Coverage, CoverageNotFound, entity="coverage")

# A pre-authorisation belongs to its coverage's patient.
_PREAUTHORIZATION_PATIENT = (
    select(Coverage.patient_id)
    .where(Coverage.id == Preauthorization.coverage_id)
    .correlate(Preauthorization)
    .scalar_subquery()
)
PREAUTHORIZATIONS = audit.repository(
    Preauthorization,
    PreauthorizationNotFound,
    entity="preauthorization",
    owner=_PREAUTHORIZATION_PATIENT,  # type: ignore[arg-type]
    order_by=[Preauthorization.created_at, Preauthorization.id],
)

# Reference data: reads and lists are not audited (writes are).
BENEFITS = audit.repository(Benefit, BenefitNotFound, entity="benefit", audit_lists=False)
PREMIUM_RATES = audit.repository(PremiumRate, PremiumRateNotFound, entity="premium_rate", audit_lists=False)
AGENTS = audit.repository(Agent, AgentNotFound, entity="agent", audit_lists=False, order_by=[Agent.code])
# A premium billing names its patient: its reads are audited, and a patient-role principal sees only their own.
PREMIUM_BILLINGS = audit.repository(
    PremiumBilling,
    PremiumBillingNotFound,
    entity="premium_billing",
    owner=PremiumBilling.patient_id,
    order_by=[PremiumBilling.period, PremiumBilling.billed_at, PremiumBilling.id],
)
COMMISSIONS = audit.repository(
    Commission,
    CommissionNotFound,
    entity="commission",
    audit_lists=False,
    order_by=[Commission.accrued_at, Commission.id],
)
PAYOUTS = audit.repository(
    CommissionPayout,
    CommissionPayoutNotFound,
    entity="commission_payout",
    audit_lists=False,
    order_by=[CommissionPayout.paid_at, CommissionPayout.id],
)
