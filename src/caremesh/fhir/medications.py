"""FHIR MedicationRequest: each medication of a prescription order (orders' items, pharmacy's catalogue), see
framework.py.

An item has no id of its own (it is the order's item at `position`), and FHIR's MedicationRequest names one
medication. So its id is the order's id (a uuid4) with the six bits every uuid4 fixes (the version digit, 4, and the
variant's two high bits, 10) replaced by the item's position: an order's items are read back without a table of
their own. The order's own bit pattern (18) and 0 never stand for a position.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest

from caremesh.fhir.framework import (
    Found,
    ResourceType,
    Search,
    SearchParam,
    caremesh_coding,
    caremesh_identifier,
    expanded_page,
    patient_of,
    ref,
    resume_expanded,
)
from caremesh.orders import contract as orders
from caremesh.pharmacy import contract as pharmacy
from caremesh.platform.uow import UnitOfWork

_UUID4_BITS = 0b0100_10  # the version digit and the variant's high bits of every uuid4
_VERSION_SHIFT, _VARIANT_SHIFT = 76, 62
PRESCRIPTION = "prescription"

# A prescription whose saga failed (no stock, say) was never filled: cancelled, with the reason.
REQUEST_STATUS = {
    "pending": "active",
    "confirmed": "active",
    "completed": "completed",
    "cancelled": "cancelled",
    "failed": "cancelled",
}


def _with_bits(value: uuid.UUID, bits: int) -> uuid.UUID:
    number = value.int & ~(0xF << _VERSION_SHIFT) & ~(0x3 << _VARIANT_SHIFT)
    return uuid.UUID(int=number | (bits >> 2) << _VERSION_SHIFT | (bits & 0x3) << _VARIANT_SHIFT)


def request_id(order_id: uuid.UUID, position: int) -> uuid.UUID:
    if not 1 <= position <= 62:
        raise ValueError(f"position {position} does not fit in an id")
    return _with_bits(order_id, position if position < _UUID4_BITS else position + 1)


def order_and_position(value: uuid.UUID) -> tuple[uuid.UUID, int] | None:
    bits = (value.int >> _VERSION_SHIFT & 0xF) << 2 | (value.int >> _VARIANT_SHIFT & 0x3)
    if bits in (0, _UUID4_BITS):
        return None
    return _with_bits(value, _UUID4_BITS), bits if bits < _UUID4_BITS else bits - 1


def medication_request_resource(
    order: orders.OrderRecord, item: orders.OrderLine, medication: pharmacy.MedicationSummary | None
) -> MedicationRequest:
    """The medication as the pharmacy's catalogue names it (a medication gone from it: its id), the quantity to
    dispense in its unit, the dosage as written; the order's number groups its items."""
    if medication is None:
        concept: dict[str, Any] = {"coding": [caremesh_coding("medication-id", str(item.medication_id))]}
    else:
        concept = {
            "coding": [caremesh_coding("medication", medication.code, medication.name)],
            "text": medication.name,
        }
    quantity = {"value": item.quantity} | ({"unit": medication.unit} if medication else {})
    return MedicationRequest(
        id=str(request_id(order.id, item.position)),
        groupIdentifier=caremesh_identifier("order-number", order.number),
        status=REQUEST_STATUS[order.status],
        statusReason={"text": order.failure_reason or order.cancel_reason}
        if order.status in ("failed", "cancelled") and (order.failure_reason or order.cancel_reason)
        else None,
        intent="order",
        medicationCodeableConcept=concept,
        subject=ref("Patient", order.patient_id),
        authoredOn=order.created_at,
        requester=ref("Practitioner", order.practitioner_id),
        note=[{"text": order.notes}] if order.notes else None,
        dosageInstruction=[{"sequence": 1, "text": item.dosage}] if item.dosage else None,
        dispenseRequest={"quantity": quantity},
    )


async def _resources(uow: UnitOfWork, found: list[orders.OrderRecord]) -> list[MedicationRequest]:
    ids = {item.medication_id for order in found for item in order.items if item.medication_id}
    medications = await pharmacy.find_medications(uow.session, ids)
    return [
        medication_request_resource(order, item, medications.get(item.medication_id))
        for order in found
        for item in order.items
        if item.medication_id is not None
    ]


async def read_medication_request(uow: UnitOfWork, value: uuid.UUID) -> MedicationRequest:
    found = order_and_position(value)
    if found is None:
        raise orders.OrderNotFound()
    order_id, position = found
    order = await orders.read_order(uow, order_id)
    items = [item for item in order.items if item.position == position and item.medication_id is not None]
    if order.type != PRESCRIPTION or not items:
        raise orders.OrderNotFound()
    return (await _resources(uow, [replace(order, items=tuple(items))]))[0]


async def search_medication_requests(uow: UnitOfWork, search: Search) -> Found:
    """Prescriptions as `GET /orders` lists them, each order's items in their order; a page of `_count` orders has
    at least `_count` items, and what is left over is the next page's (by skipping as many of the same orders)."""
    inner, skip = resume_expanded(search.cursor)
    rows, next_inner = await orders.search_orders(
        uow, patient_id=patient_of(search), type=PRESCRIPTION, limit=search.count, cursor=inner
    )
    return expanded_page(await _resources(uow, rows), search, inner, skip, next_inner)


MEDICATION_REQUEST = ResourceType(
    "MedicationRequest",
    "orders:read",
    read_medication_request,
    search_medication_requests,
    params=(SearchParam("patient", "reference", "The patient: Patient/<id> or <id>"),),
)

RESOURCES = (MEDICATION_REQUEST,)
