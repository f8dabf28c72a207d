"""The errors of payments."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, DomainError, NotFound


class IdempotencyKeyRequired(DomainError):
    status, code, title = 400, "IDEMPOTENCY_KEY_REQUIRED", "The Idempotency-Key header is required"


class PaymentNotFound(NotFound):
    code, title = "PAYMENT_NOT_FOUND", "Payment not found"


class PaymentNotRefundable(Conflict):
    code, title = "PAYMENT_NOT_REFUNDABLE", "Only a completed payment can be refunded"


class RefundExceedsPayment(Conflict):
    code, title = "REFUND_EXCEEDS_PAYMENT", "The refund is more than the payment's unrefunded amount"


class GatewayUnavailableError(DomainError):
    """Commits the undone reservation and the released key, then answers 502."""

    status, code, title = 502, "GATEWAY_UNAVAILABLE", "The payment gateway did not answer"
    keeps_side_effects = True


class GatewayAnswerUnknown(DomainError):
    """The gateway adapter failed unexpectedly: the attempt stays reserved until it is resolved. Raised outside
    any transaction."""

    status, code, title = 502, "GATEWAY_UNAVAILABLE", "The payment gateway did not answer"


class RefundDeclined(DomainError):
    status, code, title = 402, "REFUND_DECLINED", "The payment gateway declined the refund"
    keeps_side_effects = True
