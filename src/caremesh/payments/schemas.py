from __future__ import annotations

import uuid
from dataclasses import dataclass
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

from caremesh.payments.domain import MAX_AMOUNT, Method, PaymentStatus
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
    card_token: CardToken | None = Field(
        None, validate_default=True, description="Required for cards, refused for other methods"
    )

    @field_validator("card_token")
    @classmethod
    def _token_only_for_cards(cls, token: str | None, info: ValidationInfo) -> str | None:
        method = info.data.get("method")  # absent when the method itself was invalid
        if method is Method.CARD and token is None:
            raise ValueError("required when method is card")
        if method is not None and method is not Method.CARD and token is not None:
            raise ValueError(f"only cards carry a token, not {method.value}")
        return token


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
    created_at: OutDateTime
