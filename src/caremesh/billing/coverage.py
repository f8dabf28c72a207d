"""Coverage: the seam an insurance context plugs into, asked for the insurer's percent of a charge."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from caremesh.billing.domain import Kind
from caremesh.insurance import contract as insurance
from caremesh.patients import contract as patients
from caremesh.platform.uow import UnitOfWork


class CoverageSource(Protocol):
    async def coverage_percent(
        self, uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date
    ) -> Decimal | None:
        """The percent of the total the patient's insurer pays for `category`, or None when this
        source does not know (the next source, finally the default, decides)."""
        ...


class DefaultCoverage:
    """`CAREMESH_DEFAULT_COVERAGE_PERCENT` (90) for a patient with insurance identifiers, else 0."""

    async def coverage_percent(
        self, uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date
    ) -> Decimal | None:
        return uow.settings.billing.default_coverage_percent if patient.has_insurance else Decimal(0)


# What insurance calls each kind of charge.
INSURANCE_CATEGORIES = {
    Kind.CONSULTATION: insurance.Category.CONSULTATION,
    Kind.LAB: insurance.Category.LAB,
    Kind.MEDICATION: insurance.Category.PHARMACY,
    Kind.PROCEDURE: insurance.Category.PROCEDURE,
}


class SchemeCoverage:
    """The benefit of the patient's coverage that applies on the day (insurance's contract); no answer when the
    patient is not enrolled in any scheme."""

    async def coverage_percent(
        self, uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date
    ) -> Decimal | None:
        return await insurance.coverage_percent(uow.session, patient.id, INSURANCE_CATEGORIES[Kind(category)], on)


# Asked in order; the first answer wins: the patient's scheme, else the default for insurance identifiers.
COVERAGE_SOURCES: list[CoverageSource] = [SchemeCoverage(), DefaultCoverage()]


async def coverage_percent(uow: UnitOfWork, patient: patients.PatientSummary, category: str, on: date) -> Decimal:
    for source in COVERAGE_SOURCES:
        percent = await source.coverage_percent(uow, patient, category, on)
        if percent is not None:
            return percent
    return Decimal(0)
