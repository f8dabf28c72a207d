"""The events that make messages: each event of another context a patient hears about, the kind of message
(domain.KINDS) it makes, and the password reset that identity asks for."""

from __future__ import annotations

from caremesh.billing import contract as billing
from caremesh.identity import contract as identity
from caremesh.imaging import contract as imaging
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
    | orders.OrderFailed
    | lab.LabResultReady
    | imaging.ImagingReported
)
# Each event the patient hears about, and the kind of message it makes (domain.KINDS).
PATIENT_EVENTS: dict[type[PatientEvent], str] = {
    scheduling.AppointmentBooked: "appointment_booked",
    scheduling.AppointmentCancelled: "appointment_cancelled",
    billing.InvoiceIssued: "invoice_issued",
    payments.PaymentCompleted: "payment_completed",
    payments.PaymentFailed: "payment_failed",
    orders.OrderFailed: "order_failed",
    lab.LabResultReady: "lab_result_ready",
    imaging.ImagingReported: "imaging_reported",
}
EVENT_KINDS: dict[str, str] = {event.event_type: kind for event, kind in PATIENT_EVENTS.items()}
# A password reset goes to a user's email address (a user, not a patient), with the token kept out of our tables.
PASSWORD_RESET = "password_reset"
# The event that makes each kind of message.
KIND_EVENTS = {
    **{kind: event_type for event_type, kind in EVENT_KINDS.items()},
    PASSWORD_RESET: identity.PASSWORD_RESET_REQUESTED,
}
