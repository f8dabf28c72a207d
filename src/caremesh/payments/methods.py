"""Stored payment methods: a patient's cards (the gateway's token only) and UPI handles.

A card number never gets in: a token or label that looks like one (`domain.contains_card_number`) is refused with
422 RAW_CARD_NUMBER before any transaction opens, so it is not kept under an Idempotency-Key, not audited, not
logged and not repeated in the problem. A card's `last4` is what the gateway says of the token (`card_details`),
asked outside any transaction like every gateway call; an unknown token is refused.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.patients import contract as patients
from caremesh.payments import domain
from caremesh.payments.domain import Method, MethodType
from caremesh.payments.errors import (
    GatewayUnavailableError,
    InvalidUpiHandle,
    PaymentMethodAlreadyStored,
    PaymentMethodMismatch,
    PaymentMethodNotFound,
    RawCardNumber,
    UnknownCardToken,
)
from caremesh.payments.gateway import CardDetails, GatewayUnavailable, PaymentGateway
from caremesh.payments.models import PaymentMethod
from caremesh.payments.schemas import PaymentMethodCreate, PaymentMethodFilters
from caremesh.platform.db import violates
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.uow import UnitOfWork

# Deleted methods are gone for everyone; a patient-role principal sees only their own.
METHODS: Repository[PaymentMethod] = audit.repository(
    PaymentMethod,
    PaymentMethodNotFound,
    entity="payment_method",
    owner=PaymentMethod.patient_id,
    where=[PaymentMethod.deleted_at.is_(None)],
    order_by=[PaymentMethod.created_at, PaymentMethod.id],
)


def refuse_card_numbers(**fields: str | None) -> None:
    """422 RAW_CARD_NUMBER when any of these fields looks like a card number. The problem names the field only."""
    for name, value in fields.items():
        if value is not None and domain.contains_card_number(value):
            raise RawCardNumber(
                f"{name}: looks like a card number. Send the payment gateway's token of the card instead; "
                "card numbers are never stored.",
                extra={"errors": [{"loc": [name], "msg": "looks like a card number"}]},
            )


async def card_of(gateway: PaymentGateway, data: PaymentMethodCreate, timeout: float) -> CardDetails | None:
    """What the gateway holds under a card's token (None for UPI), asked outside any transaction; a UPI handle's
    shape is checked here too, so every refusal of the request's content comes before the key is claimed."""
    if data.type is MethodType.UPI:
        if not domain.is_vpa(data.token):
            raise InvalidUpiHandle("token: a UPI handle is name@provider, e.g. asha.k@okicici.")
        return None
    try:
        async with asyncio.timeout(timeout):
            card = await gateway.card_details(data.token)
    except (GatewayUnavailable, TimeoutError) as error:
        raise GatewayUnavailableError("Nothing was stored. Retry shortly.", headers={"Retry-After": "5"}) from error
    if card is None:
        raise UnknownCardToken("token: the payment gateway holds no card under this token.")
    return card


async def store(uow: UnitOfWork, data: PaymentMethodCreate, card: CardDetails | None) -> PaymentMethod:
    if not METHODS.may_see(uow, data.patient_id) or await patients.find_patient(uow.session, data.patient_id) is None:
        raise patients.PatientNotFound()
    now = uow.now()
    method = PaymentMethod(
        id=uuid.uuid4(),
        patient_id=data.patient_id,
        type=data.type,
        token=data.token,
        label=data.label,
        last4=card.last4 if card is not None else None,
        created_at=now,
        updated_at=now,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(method)
    except IntegrityError as error:
        if violates(error, "uq_payment_methods_live_token") or violates(error, "payment_methods.patient_id"):
            raise PaymentMethodAlreadyStored(
                "This patient has already stored this payment method; delete it first to store it again."
            ) from error
        raise
    audit.record(uow, "payment_method.create", "payment_method", method.id)
    return method


async def get(uow: UnitOfWork, method_id: uuid.UUID) -> PaymentMethod:
    return await METHODS.get(uow, method_id)


async def list_methods(
    uow: UnitOfWork, filters: PaymentMethodFilters, page: PageParams
) -> tuple[list[PaymentMethod], str | None]:
    return await METHODS.list(uow, filters, page)


async def delete(uow: UnitOfWork, method_id: uuid.UUID) -> None:
    """Marks it deleted: it leaves the lists and cannot pay any more; payments made with it keep its id."""
    await METHODS.soft_delete(uow, await METHODS.load(uow, method_id, for_update=True))


async def usable(uow: UnitOfWork, method_id: uuid.UUID, patient_id: uuid.UUID, paying_with: Method) -> PaymentMethod:
    """The stored method a payment of `patient_id`'s invoice by `paying_with` may use: 404 when it is unknown,
    deleted or not the principal's to see; 422 PAYMENT_METHOD_MISMATCH when it is another patient's (a clerk's
    mistake) or of the other type."""
    method = await METHODS.load(uow, method_id)
    if method.patient_id != patient_id:
        raise PaymentMethodMismatch("payment_method_id: the stored method belongs to another patient than the invoice.")
    if not domain.method_serves(MethodType(method.type), paying_with):
        raise PaymentMethodMismatch(
            f"payment_method_id: a stored {method.type} method cannot pay a {paying_with.value} payment."
        )
    return method
