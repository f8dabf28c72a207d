"""How insurance loads, sees and lists its aggregates (see `platform.repository`).

A patient-role principal sees only their own coverages, and the pre-authorisations of those; every other row does
not exist for them. Claims and billing reach a coverage through the contract, as the clinic: `ANY_COVERAGE`.
"""

from __future__ import annotations

from sqlalchemy import select

from caremesh.audit import contract as audit
from caremesh.insurance.errors import CoverageNotFound, PayerNotFound, PreauthorizationNotFound, SchemeNotFound
from caremesh.insurance.models import Coverage, Payer, Preauthorization, Scheme
from caremesh.platform.repository import Repository

PAYERS = Repository(
    Payer,
    PayerNotFound,
    entity="payer",
    record=audit.record,
    audit_lists=False,
    order_by=[Payer.code],
    criteria={"code": lambda code: Payer.code == code.strip().upper()},
)
SCHEMES = Repository(
    Scheme, SchemeNotFound, entity="scheme", record=audit.record, audit_lists=False, order_by=[Scheme.code, Scheme.id]
)
COVERAGES = Repository(
    Coverage,
    CoverageNotFound,
    entity="coverage",
    owner=Coverage.patient_id,
    record=audit.record,
    order_by=[Coverage.created_at, Coverage.id],
)
ANY_COVERAGE = Repository(Coverage, CoverageNotFound, entity="coverage", record=audit.record)

# A pre-authorisation belongs to its coverage's patient.
_PREAUTHORIZATION_PATIENT = (
    select(Coverage.patient_id)
    .where(Coverage.id == Preauthorization.coverage_id)
    .correlate(Preauthorization)
    .scalar_subquery()
)
PREAUTHORIZATIONS = Repository(
    Preauthorization,
    PreauthorizationNotFound,
    entity="preauthorization",
    owner=_PREAUTHORIZATION_PATIENT,  # type: ignore[arg-type]
    record=audit.record,
    order_by=[Preauthorization.created_at, Preauthorization.id],
)
