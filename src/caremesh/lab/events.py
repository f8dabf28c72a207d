"""Integration events of lab. Ids are UUID strings, money strings with two decimals, dates YYYY-MM-DD,
datetimes RFC 3339 UTC.

lab.scheduled          {order_id, patient_id,
                        lab_orders: [{lab_order_id, lab_test_id, code, name, price, currency, scheduled_date}],
                        scheduled_at}
lab.scheduling_failed  {order_id, patient_id, failure_reason: NO_LAB_CAPACITY | LAB_TEST_NOT_FOUND, lab_test_id,
                        cancelled: [{lab_order_id, lab_test_id, scheduled_date}], failed_at}
lab.cancelled          {order_id, patient_id, lab_orders: [{lab_order_id, lab_test_id, scheduled_date}],
                        reason: order.failed | order.cancelled, cancelled_at}
lab.result_ready       {lab_order_id, order_id, patient_id, lab_test_id, order_fully_resulted: bool, resulted_at}

`lab.scheduled` lists one lab order per order item, in the order's item order. `lab.scheduling_failed`:
nothing of the order stays booked; `cancelled` lists what was booked for it in the same transaction and
given back. `lab.cancelled` is published only when something was cancelled. Results never travel in events.
"""

LAB_SCHEDULED = "lab.scheduled"
LAB_SCHEDULING_FAILED = "lab.scheduling_failed"
LAB_CANCELLED = "lab.cancelled"
LAB_RESULT_READY = "lab.result_ready"
