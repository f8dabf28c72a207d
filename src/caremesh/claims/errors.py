"""The errors of claims."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, DomainError, NotFound, Unprocessable


class ClaimNotFound(NotFound):
    code, title = "CLAIM_NOT_FOUND", "Claim not found"


class NotClaimable(Conflict):
    code, title = "NOT_CLAIMABLE", "The invoice has no insurance share to claim"


class ClaimExists(Conflict):
    code, title = "CLAIM_EXISTS", "The invoice already has an open claim"


class ClaimWindowExpired(Unprocessable):
    code, title = "CLAIM_WINDOW_EXPIRED", "The service date is outside the claim submission window"


class DuplicateClaim(Conflict):
    code, title = "DUPLICATE_CLAIM", "A claim for the same member, provider, amount and service date was just submitted"


class InvalidStatusTransition(Conflict):
    code, title = "INVALID_STATUS_TRANSITION", "The claim's status does not allow this"


class DisputeNotFound(NotFound):
    code, title = "DISPUTE_NOT_FOUND", "Dispute not found"


class DisputeExists(Conflict):
    code, title = "DISPUTE_EXISTS", "The claim already has an open dispute"


class DisputeResolved(Conflict):
    code, title = "DISPUTE_RESOLVED", "The dispute is already resolved"


class DisputeAttachmentLimit(Conflict):
    code, title = "DISPUTE_ATTACHMENT_LIMIT", "The dispute has as many files as it may hold"


class RemittanceConflict(Conflict):
    code, title = "REMITTANCE_CONFLICT", "This remittance id was already processed with different items"


class InvalidX12(Unprocessable):
    code, title = "INVALID_X12", "The body is not a readable X12 835 remittance"


class DiagnosisRequired(Unprocessable):
    code, title = "DIAGNOSIS_REQUIRED", "The claim has no diagnosis"


class RemittanceNotFound(NotFound):
    code, title = "REMITTANCE_NOT_FOUND", "Remittance not found"


class AttachmentNotFound(NotFound):
    code, title = "ATTACHMENT_NOT_FOUND", "Attachment not found"


class AttachmentCorrupted(DomainError):
    """The stored file is not what was received (its sha256 or size differ) or is gone: never served."""

    status, code, title = 500, "ATTACHMENT_CORRUPTED", "The stored file does not match what was received"
