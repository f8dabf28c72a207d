"""Integration events of billing. Amounts are strings with two decimals; ids are UUID strings.

invoice.issued  {invoice_id, number, patient_id, appointment_id, order_id, subtotal, discount_amount, tax_amount,
                 total, insurance_amount, patient_amount, balance_due, currency, issued_at}
invoice.paid    {invoice_id, number, patient_id, total, patient_amount, amount_paid, currency, paid_at}
invoice.voided  {invoice_id, number, patient_id, appointment_id, order_id, reason, voided_at}
"""

INVOICE_ISSUED = "invoice.issued"
INVOICE_PAID = "invoice.paid"
INVOICE_VOIDED = "invoice.voided"
