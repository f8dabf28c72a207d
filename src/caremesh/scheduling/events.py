"""Integration events of scheduling. Payloads carry ids, times and status, never clinical notes."""

APPOINTMENT_BOOKED = "appointment.booked"
APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
APPOINTMENT_CHECKED_IN = "appointment.checked_in"
APPOINTMENT_COMPLETED = "appointment.completed"
APPOINTMENT_CANCELLED = "appointment.cancelled"
APPOINTMENT_NO_SHOW = "appointment.no_show"
