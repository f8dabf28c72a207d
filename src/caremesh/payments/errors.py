"""The errors of payments."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, DomainError, NotFound, Unprocessable


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


class RefundNotFound(NotFound):
    code, title = "REFUND_NOT_FOUND", "Refund not found"


class PaymentMethodNotFound(NotFound):
    code, title = "PAYMENT_METHOD_NOT_FOUND", "Payment method not found"


class PaymentMethodAlreadyStored(Conflict):
    code, title = "PAYMENT_METHOD_ALREADY_STORED", "The patient has already stored this payment method"


class PaymentMethodMismatch(Unprocessable):
    code, title = "PAYMENT_METHOD_MISMATCH", "The stored payment method cannot pay this payment"


class UnknownCardToken(Unprocessable):
    code, title = "UNKNOWN_CARD_TOKEN", "The payment gateway does not know this card token"


class RawCardNumber(Unprocessable):
    """Never carries the value: neither the detail nor anything else of the problem repeats what was sent."""

    code, title = "RAW_CARD_NUMBER", "A card number was sent where only the payment gateway's token belongs"


class InvalidUpiHandle(Unprocessable):
    code, title = "INVALID_UPI_HANDLE", "A UPI handle is name@provider"


class SettlementDayInFuture(Conflict):
    code, title = "SETTLEMENT_DAY_IN_FUTURE", "A day in the future cannot be closed"


class PaymentNotCompleted(Conflict):
    code, title = "PAYMENT_NOT_COMPLETED", "Only a completed payment has a receipt"
