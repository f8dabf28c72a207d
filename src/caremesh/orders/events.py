"""Integration events of orders. Ids are UUID strings, datetimes RFC 3339 UTC.

The saga of an order (see service.py): `order.placed` asks pharmacy (prescriptions) or lab (lab orders)
to take the first step; their answers come back as their events; billing is called through its contract.

order.placed     {order_id, number, patient_id, practitioner_id, type: prescription|lab,
                  items: [{medication_id, quantity, dosage}] | [{lab_test_id}], placed_at}
order.confirmed  {order_id, number, patient_id, type, invoice_id, confirmed_at}
order.failed     {order_id, number, patient_id, type, failure_reason, failed_at}
order.cancelled  {order_id, number, patient_id, type, reason, cancelled_at}
order.completed  {order_id, number, patient_id, type, completed_at}

`order.failed` and `order.cancelled` ask pharmacy and lab to compensate: release what the order holds.
"""

ORDER_PLACED = "order.placed"
ORDER_CONFIRMED = "order.confirmed"
ORDER_FAILED = "order.failed"
ORDER_CANCELLED = "order.cancelled"
ORDER_COMPLETED = "order.completed"
