"""How insurance loads, sees and lists its aggregates (see `platform.repository`).

A patient-role principal sees only their own coverages, and the pre-authorisations of those; every other row does
not exist for them. Claims and billing reach a coverage through the contract, as the clinic: `ANY_COVERAGE`.
"""

from __future__ import annotations

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.insurance.errors import CoverageNotFound, PayerNotFound, PreauthorizationNotFound, SchemeNotFound
from caremesh.insurance.models import Coverage, Payer, Preauthorization, Scheme

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
