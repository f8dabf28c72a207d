"""Integration events of payments. Amounts are strings with two decimals; ids are UUID strings.

payment.completed {payment_id, reference, invoice_id, invoice_number, patient_id, amount, method, currency,
                   balance_due, created_at}
payment.failed    {payment_id, reference, invoice_id, invoice_number, patient_id, amount, method, currency,
                   failure_reason, created_at}
payment.refunded  {refund_id, payment_id, reference, invoice_id, invoice_number, patient_id, amount, currency,
                   reason, created_at}
"""

PAYMENT_COMPLETED = "payment.completed"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
