"""Insurance's domain errors, each with its problem code and HTTP status."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class PayerNotFound(NotFound):
    code, title = "PAYER_NOT_FOUND", "Payer not found"


class SchemeNotFound(NotFound):
    code, title = "SCHEME_NOT_FOUND", "Scheme not found"


class CoverageNotFound(NotFound):
    code, title = "COVERAGE_NOT_FOUND", "Coverage not found"


class PreauthorizationNotFound(NotFound):
    code, title = "PREAUTHORIZATION_NOT_FOUND", "Pre-authorisation not found"


class NoPremiumRate(NotFound):
    code, title = "NO_PREMIUM_RATE", "No premium rate covers this age"


class PayerCodeExists(Conflict):
    code, title = "PAYER_CODE_EXISTS", "A payer with this code exists"


class PayerBinPcnExists(Conflict):
    code, title = "PAYER_BIN_PCN_EXISTS", "Another payer has this BIN and PCN"


class SchemeCodeExists(Conflict):
    code, title = "SCHEME_CODE_EXISTS", "The payer has a scheme with this code"


class BenefitExists(Conflict):
    code, title = "BENEFIT_EXISTS", "The scheme has a benefit for this category"


class PremiumRateOverlap(Conflict):
    code, title = "OVERLAPPING_PREMIUM_BANDS", "The age band overlaps another of the scheme"


class MemberIdExists(Conflict):
    code, title = "MEMBER_ID_EXISTS", "The payer has a coverage with this member id"


class InvalidStatusTransition(Conflict):
    code, title = "INVALID_STATUS_TRANSITION", "The resource is already in that status"


class NotCovered(Conflict):
    code, title = "NOT_COVERED", "The coverage's scheme has no benefit for this category"


class DeductibleExceeded(Conflict):
    code, title = "DEDUCTIBLE_EXCEEDED", "More deductible than is left this benefit year"


class AnnualLimitExceeded(Conflict):
    code, title = "ANNUAL_LIMIT_EXCEEDED", "More than the annual limit's remainder"


class NothingToReverse(Conflict):
    code, title = "NOTHING_TO_REVERSE", "The accumulators hold less than the reversal"


class BenefitNotFound(NotFound):
    code, title = "BENEFIT_NOT_FOUND", "Benefit not found"


class PremiumRateNotFound(NotFound):
    code, title = "PREMIUM_RATE_NOT_FOUND", "Premium rate not found"


class AgentNotFound(NotFound):
    code, title = "AGENT_NOT_FOUND", "Agent not found"


class PremiumBillingNotFound(NotFound):
    code, title = "PREMIUM_BILLING_NOT_FOUND", "Premium billing not found"


class CommissionNotFound(NotFound):
    code, title = "COMMISSION_NOT_FOUND", "Commission not found"


class CommissionPayoutNotFound(NotFound):
    code, title = "COMMISSION_PAYOUT_NOT_FOUND", "Commission payout not found"


class AgentCodeExists(Conflict):
    code, title = "AGENT_CODE_EXISTS", "An agent with this code exists"


class NothingToPay(Conflict):
    code, title = "NOTHING_TO_PAY", "The agent has no accrued commission for this period"
