"""Integration events of claims. Ids are UUID strings, money strings with two decimals, instants RFC 3339 UTC.

claim.submitted    {claim_id, number, invoice_id, patient_id, payer_id, claimed_amount, currency, submitted_at}
claim.adjudicated  {claim_id, number, invoice_id, patient_id, status, approved_amount, claimed_amount, manual,
                    adjudicated_at}   (also after a dispute is overturned, with manual: true)
claim.paid         {claim_id, number, invoice_id, patient_id, paid_amount, remittance_id, paid_at}
"""

CLAIM_SUBMITTED = "claim.submitted"
CLAIM_ADJUDICATED = "claim.adjudicated"
CLAIM_PAID = "claim.paid"
