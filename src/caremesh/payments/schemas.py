from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from caremesh.payments.domain import MAX_AMOUNT, Method, MethodType, PaymentStatus, SettlementStatus
from caremesh.platform.money import MoneyOut, money
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Strict
from caremesh.platform.timeutil import OutDateTime

# Request amounts: positive, at most two decimals (never silently rounded), as a string or a number.
Amount = Annotated[
    Decimal,
    Field(gt=0, le=MAX_AMOUNT, decimal_places=2, description='Two decimals at most, e.g. "1680.00"'),
    AfterValidator(money),
]


@dataclass(frozen=True, kw_only=True)
class PaymentFilters(ListFilters):
    invoice_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    status: Literal["completed", "failed"] | None = None


CardToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PaymentCreate(Strict):
    invoice_id: uuid.UUID
    amount: Amount
    method: Method
    payment_method_id: uuid.UUID | None = Field(
        None,
        description="A stored payment method of the invoice's patient: a card (instead of card_token) for card "
        "payments, a UPI handle for UPI payments; refused for cash and bank transfers",
    )
    card_token: CardToken | None = Field(
        None,
        validate_default=True,
        description="For cards, unless payment_method_id is given (exactly one of the two); refused for other methods",
    )

    @field_validator("payment_method_id")
    @classmethod
    def _stored_methods_for_cards_and_upi(cls, method_id: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        method = info.data.get("method")
        if method_id is not None and method in (Method.CASH, Method.BANK_TRANSFER):
            raise ValueError(f"only card and UPI payments use a stored method, not {method.value}")
        return method_id

    @field_validator("card_token")
    @classmethod
    def _token_only_for_cards(cls, token: str | None, info: ValidationInfo) -> str | None:
        method = info.data.get("method")  # absent when the method itself was invalid
        stored = info.data.get("payment_method_id")
        if method is Method.CARD and token is None and stored is None:
            raise ValueError("required when method is card, unless payment_method_id is given")
        if method is Method.CARD and token is not None and stored is not None:
            raise ValueError("give card_token or payment_method_id, not both")
        if method is not None and method is not Method.CARD and token is not None:
            raise ValueError(f"only cards carry a token, not {method.value}")
        return token

    def fingerprinted(self) -> dict[str, object]:
        """The request as its Idempotency-Key's fingerprint sees it; without a stored method exactly as before
        payment_method_id existed, so keys sent before an upgrade still match their retries."""
        request = self.model_dump(mode="json")
        if request["payment_method_id"] is None:
            del request["payment_method_id"]
        return request


class PaymentRead(BaseModel):
    id: uuid.UUID
    reference: str
    invoice_id: uuid.UUID
    patient_id: uuid.UUID
    amount: MoneyOut
    currency: str
    method: Method
    status: PaymentStatus = Field(description="completed | failed")
    failure_reason: str | None
    refunded_amount: MoneyOut
    payment_method_id: uuid.UUID | None
    settlement_date: date | None = Field(description="The clinic day it counts on in the daily settlement")
    created_at: OutDateTime


class RefundCreate(Strict):
    amount: Amount
    reason: Reason


class RefundRead(BaseModel):
    id: uuid.UUID
    reference: str
    payment_id: uuid.UUID
    amount: MoneyOut
    currency: str
    reason: str
    settlement_date: date | None = Field(description="The clinic day it counts on in the daily settlement")
    created_at: OutDateTime


@dataclass(frozen=True, kw_only=True)
class RefundFilters(ListFilters):
    payment_id: uuid.UUID | None = None
    invoice_id: uuid.UUID | None = None


# --- stored payment methods ---------------------------------------------------------------------------------------

MethodToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PaymentMethodCreate(Strict):
    patient_id: uuid.UUID
    type: MethodType
    token: MethodToken = Field(
        description="The payment gateway's token of the card (never its number), or the UPI handle (name@bank)"
    )
    label: Label = Field(description='What the patient calls it, e.g. "Personal Visa"')


class PaymentMethodRead(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    type: MethodType
    label: str
    last4: str | None = Field(description="The card's last four digits, as its gateway reports them; null for UPI")
    created_at: OutDateTime


@dataclass(frozen=True, kw_only=True)
class PaymentMethodFilters(ListFilters):
    patient_id: uuid.UUID | None = None
    type: MethodType | None = None


# --- daily settlement ---------------------------------------------------------------------------------------------


class MethodTotal(BaseModel):
    method: Method
    count: int
    amount: MoneyOut


class PayerTotal(BaseModel):
    payer_code: str
    count: int
    amount: MoneyOut


class MoneyMoved(BaseModel):
    count: int
    amount: MoneyOut


class ByMethod(MoneyMoved):
    by_method: list[MethodTotal] = Field(description="Every method, in a fixed order, zeros included")


class ByPayer(MoneyMoved):
    by_payer: list[PayerTotal] = Field(description="The payers that remitted, by payer code")


class SettlementRead(BaseModel):
    date: date
    currency: str
    status: SettlementStatus = Field(description="open | closed: a closed day's figures are frozen")
    payments: ByMethod = Field(description="Completed payments counted on the day")
    refunds: ByMethod = Field(description="Refunds counted on the day, by the method of the payment refunded")
    remittances: ByPayer = Field(description="Insurers' remittances processed on the day (claims)")
    net: MoneyOut = Field(description="payments.amount - refunds.amount + remittances.amount")
    closed_at: OutDateTime | None
    closed_by: uuid.UUID | None = Field(description="The user who closed the day")


# --- receipts -------------------------------------------------------------------------------------------------------


class ReceiptRead(BaseModel):
    """What the receipt of a completed payment says (`GET /payments/{id}/receipt`; the PDF prints the same)."""

    receipt_number: str = Field(
        description="The payment's reference (PAY-…): one receipt per payment, however often printed"
    )
    payment_id: uuid.UUID
    patient_id: uuid.UUID
    paid_at: OutDateTime = Field(description="When the payment was made")
    method: Method
    amount: MoneyOut
    refunded_amount: MoneyOut = Field(description="What of this payment has been refunded since")
    currency: str
    invoice_id: uuid.UUID
    invoice_number: str
    invoice_total: MoneyOut
    insurance_amount: MoneyOut
    patient_amount: MoneyOut
    balance_before: MoneyOut = Field(description="The invoice's balance due just before this payment")
    balance_after: MoneyOut = Field(
        description="The invoice's balance due just after this payment (as it stood then: a reprint says the same)"
    )
    balance_due: MoneyOut = Field(description="The invoice's balance due now")
