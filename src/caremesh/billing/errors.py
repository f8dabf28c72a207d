"""Billing's domain errors, each with its HTTP status and stable code. The not-found errors of what billing prices
(appointments, patients, practitioners) are their owners', from their contracts."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class TariffNotFound(NotFound):
    code, title = "TARIFF_NOT_FOUND", "Tariff not found"


class TariffExists(Conflict):
    code, title = "TARIFF_EXISTS", "A tariff with this code exists"


class ConsultationTariffExists(Conflict):
    code, title = "CONSULTATION_TARIFF_EXISTS", "Another consultation tariff prices this specialty"


class NoApplicableTariff(Conflict):
    code, title = "NO_APPLICABLE_TARIFF", "No tariff prices this visit"


class InvoiceNotFound(NotFound):
    code, title = "INVOICE_NOT_FOUND", "Invoice not found"


class InvoiceNotPayable(Conflict):
    code, title = "INVOICE_NOT_PAYABLE", "The invoice is void or paid"


class AmountExceedsBalance(Conflict):
    code, title = "AMOUNT_EXCEEDS_BALANCE", "The amount exceeds the balance due"


class InvoiceHasPayments(Conflict):
    code, title = "INVOICE_HAS_PAYMENTS", "The invoice has payments; refund them first"


class InvoiceHasCreditNotes(Conflict):
    code, title = "INVOICE_HAS_CREDIT_NOTES", "The invoice has credit notes; it cannot be voided"


class CreditExceedsInvoice(Conflict):
    code, title = "CREDIT_EXCEEDS_INVOICE", "The credit exceeds what is still open of the invoice's patient share"


class CreditNoteNotFound(NotFound):
    code, title = "CREDIT_NOTE_NOT_FOUND", "Credit note not found"


class InvoiceNotVoidable(Conflict):
    code, title = "INVOICE_NOT_VOIDABLE", "The invoice is already void"


class InsuranceShareExceeded(Conflict):
    code, title = "INSURANCE_SHARE_EXCEEDED", "The payment exceeds the invoice's outstanding insurance share"


class NoPaymentPending(Conflict):
    code, title = "NO_PAYMENT_PENDING", "No payment of this amount is pending on the invoice"


class RefundExceedsAmountPaid(Conflict):
    code, title = "REFUND_EXCEEDS_AMOUNT_PAID", "The refund exceeds what was paid on the invoice"


class AppointmentNotCompleted(Conflict):
    code, title = "APPOINTMENT_NOT_COMPLETED", "The appointment is not completed"


class AppointmentCancelled(Conflict):
    code, title = "APPOINTMENT_CANCELLED", "The appointment is cancelled"
