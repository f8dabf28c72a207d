"""The events that make messages with built-in templates: each event of another context a patient hears about, the
kind of message (catalogue.KINDS) it makes, the claim events the billing office hears about, and the password resets
and email verifications that identity asks for. Templates added for other events: see published.py."""

from __future__ import annotations

from caremesh.billing import contract as billing
from caremesh.claims import contract as claims
from caremesh.identity import contract as identity
from caremesh.imaging import contract as imaging
from caremesh.insurance import contract as insurance
from caremesh.lab import contract as lab
from caremesh.orders import contract as orders
from caremesh.payments import contract as payments
from caremesh.scheduling import contract as scheduling

# An event the patient hears about: each names the patient it is about.
PatientEvent = (
    scheduling.AppointmentBooked
    | scheduling.AppointmentCancelled
    | billing.InvoiceIssued
    | payments.PaymentCompleted
    | payments.PaymentFailed
    | payments.PaymentRefunded
    | orders.OrderConfirmed
    | orders.OrderCancelled
    | orders.OrderFailed
    | lab.LabResultReady
    | imaging.ImagingReported
    | insurance.CoverageCreated
)
# Each event the patient hears about, and the kind of message it makes (catalogue.KINDS).
PATIENT_EVENTS: dict[type[PatientEvent], str] = {
    scheduling.AppointmentBooked: "appointment_booked",
    scheduling.AppointmentCancelled: "appointment_cancelled",
    billing.InvoiceIssued: "invoice_issued",
    payments.PaymentCompleted: "payment_completed",
    payments.PaymentFailed: "payment_failed",
    payments.PaymentRefunded: "refund_issued",
    orders.OrderConfirmed: "order_confirmed",
    orders.OrderCancelled: "order_cancelled",
    orders.OrderFailed: "order_failed",
    lab.LabResultReady: "lab_result_ready",
    imaging.ImagingReported: "imaging_reported",
    insurance.CoverageCreated: "coverage_created",
}
# An invoice of kind `premium` (insurance's monthly premium) has a template of its own.
PREMIUM_INVOICE_ISSUED = "premium_invoice_issued"

# Events the billing office hears about (at CAREMESH_BILLING_EMAIL), and the kind of message each makes.
OfficeEvent = claims.ClaimAdjudicated | claims.ClaimPaid
OFFICE_EVENTS: dict[type[OfficeEvent], str] = {
    claims.ClaimAdjudicated: "claim_adjudicated",
    claims.ClaimPaid: "claim_paid",
}

# A password reset and an email verification go to a user's address (a user, not a patient), with the token kept
# out of our tables.
PASSWORD_RESET = "password_reset"
EMAIL_VERIFICATION = "email_verification"


def kind_of(event: PatientEvent) -> str:
    """The kind of message a patient's event makes."""
    if isinstance(event, billing.InvoiceIssued) and event.kind == "premium":
        return PREMIUM_INVOICE_ISSUED
    return PATIENT_EVENTS[event.__class__]


# The event that makes each kind of message.
KIND_EVENTS: dict[str, str] = {
    **{kind: event.event_type for event, kind in PATIENT_EVENTS.items()},
    PREMIUM_INVOICE_ISSUED: billing.InvoiceIssued.event_type,
    **{kind: event.event_type for event, kind in OFFICE_EVENTS.items()},
    PASSWORD_RESET: identity.PASSWORD_RESET_REQUESTED,
    EMAIL_VERIFICATION: identity.EMAIL_VERIFICATION_REQUESTED,
}
# The event types that built-in templates answer: a template added by POST answers any other published event.
BUILT_IN_EVENT_TYPES = frozenset(KIND_EVENTS.values())
