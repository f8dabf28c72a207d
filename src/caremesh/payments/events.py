"""Integration events of payments. Amounts are strings with two decimals; ids are UUID strings.

payment.completed {payment_id, reference, invoice_id, invoice_number, patient_id, amount, method, currency,
                   balance_due, created_at}
payment.failed    {payment_id, reference, invoice_id, invoice_number, patient_id, amount, method, currency,
                   failure_reason, created_at}
payment.refunded  {refund_id, reference, payment_id, payment_reference, invoice_id, invoice_number, patient_id,
                   amount, currency, reason, balance_due, created_at}

`reference` is the event's own record's number (PAY-… for a payment, RFD-… for a refund); `balance_due`
is the invoice's balance after the payment or refund.
"""

PAYMENT_COMPLETED = "payment.completed"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
