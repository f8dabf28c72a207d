"""Integration events of pharmacy. Ids are UUID strings, money strings with two decimals, datetimes RFC 3339 UTC.

medication.reserved            {order_id, patient_id,
                                reservations: [{reservation_id, medication_id, code, name, unit, quantity,
                                                unit_price, currency}],
                                reserved_at}
medication.reservation_failed  {order_id, patient_id, failure_reason: INSUFFICIENT_STOCK | MEDICATION_NOT_FOUND,
                                medication_id, requested, available,
                                released: [{reservation_id, medication_id, quantity}], failed_at}
medication.released            {order_id, patient_id, reservations: [{reservation_id, medication_id, quantity}],
                                reason: order.failed | order.cancelled, released_at}
medication.dispensed           {order_id, patient_id, reservation_id, medication_id, quantity,
                                order_fully_dispensed: bool, dispensed_at}

`medication.reserved` lists one reservation per order item, in the order's item order.
`medication.reservation_failed`: nothing of the order stays reserved; `released` lists what was reserved for
it in the same transaction and given back. `medication.released` is published only when something was released.
"""

MEDICATION_RESERVED = "medication.reserved"
MEDICATION_RESERVATION_FAILED = "medication.reservation_failed"
MEDICATION_RELEASED = "medication.released"
MEDICATION_DISPENSED = "medication.dispensed"
