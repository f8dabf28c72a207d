"""The catalogue of built-in messages: each kind of event notifications turns into a message, with its fields,
sample and default templates (`KINDS`), and the template codes that name them (`<kind>.<channel>`)."""

from __future__ import annotations

from caremesh.notifications.domain import Channel, EventKind

_APPOINTMENT_FIELDS = ("appointment_id", "number", "specialty", "start", "end", "duration_minutes")
_APPOINTMENT_SAMPLE = {
    "appointment_id": "7d1c9a8e-3f0b-4c61-9a55-0d2f4b6e8a10",
    "number": "APT-2026-000042",
    "specialty": "general_practice",
    "start": "2026-03-02T09:00:00Z",
    "end": "2026-03-02T09:30:00Z",
    "duration_minutes": 30,
}
_SIGN_OFF = "\n\ncaremesh\n"
_PAYMENT_FIELDS = ("payment_id", "reference", "invoice_id", "invoice_number", "amount", "method")
_PAYMENT_SAMPLE = {
    "payment_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    "reference": "PAY-2026-000042",
    "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
    "invoice_number": "INV-2026-000042",
    "amount": "1680.00",
    "method": "card",
    "currency": "INR",
    "created_at": "2026-03-02T10:05:00Z",
}
# The amounts of an invoice, in the order the event gives them.
_INVOICE_AMOUNTS = (
    "subtotal",
    "discount_amount",
    "tax_amount",
    "total",
    "insurance_amount",
    "patient_amount",
    "balance_due",
)


def _letter(text: str) -> str:
    """The default email to a patient: `text` between the greeting and the sign-off."""
    return "Dear {{ first_name }},\n\n" + text + _SIGN_OFF


KINDS: dict[str, EventKind] = {
    kind.key: kind
    for kind in (
        EventKind(
            key="appointment_booked",
            fields=_APPOINTMENT_FIELDS,
            sample=_APPOINTMENT_SAMPLE,
            instants=frozenset({"start", "end"}),
            words=frozenset({"specialty"}),
            subject="Your appointment {{ number }} is booked",
            email=_letter(
                "your {{ specialty }} appointment {{ number }} is booked for {{ start }} "
                "({{ duration_minutes }} minutes).\n"
                "If you cannot come, please cancel or reschedule it in good time."
            ),
            sms="caremesh: {{ first_name }}, your appointment {{ number }} is booked for {{ start }}.",
        ),
        EventKind(
            key="appointment_cancelled",
            fields=(*_APPOINTMENT_FIELDS, "reason"),
            sample={**_APPOINTMENT_SAMPLE, "reason": "The patient asked to cancel"},
            optional=frozenset({"reason"}),
            instants=frozenset({"start", "end"}),
            words=frozenset({"specialty"}),
            subject="Your appointment {{ number }} is cancelled",
            email=_letter(
                "your {{ specialty }} appointment {{ number }} on {{ start }} is cancelled.\n"
                "You are welcome to book a new one at any time."
            ),
            sms="caremesh: {{ first_name }}, your appointment {{ number }} on {{ start }} is cancelled.",
        ),
        EventKind(
            key="invoice_issued",
            fields=("invoice_id", "number", "appointment_id", "order_id", *_INVOICE_AMOUNTS, "issued_at"),
            sample={
                "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
                "number": "INV-2026-000042",
                "appointment_id": "7d1c9a8e-3f0b-4c61-9a55-0d2f4b6e8a10",
                "order_id": None,
                "subtotal": "1500.00",
                "discount_amount": "0.00",
                "tax_amount": "180.00",
                "total": "1680.00",
                "insurance_amount": "0.00",
                "patient_amount": "1680.00",
                "balance_due": "1680.00",
                "currency": "INR",
                "issued_at": "2026-03-02T10:00:00Z",
            },
            money=frozenset(_INVOICE_AMOUNTS),
            instants=frozenset({"issued_at"}),
            optional=frozenset({"appointment_id", "order_id"}),  # an invoice is for one or the other
            subject="Invoice {{ number }}: {{ patient_amount }} to pay",
            email=_letter(
                "invoice {{ number }} was issued on {{ issued_at }}.\n"
                "Total {{ total }}, of which your insurance pays {{ insurance_amount }}.\n"
                "Your share is {{ patient_amount }}; {{ balance_due }} is due."
            ),
            sms="caremesh: {{ first_name }}, invoice {{ number }} is issued; {{ balance_due }} is due.",
        ),
        EventKind(
            key="payment_completed",
            fields=(*_PAYMENT_FIELDS, "balance_due"),
            sample={**_PAYMENT_SAMPLE, "balance_due": "0.00"},
            money=frozenset({"amount", "balance_due"}),
            words=frozenset({"method"}),
            subject="Receipt {{ reference }} for invoice {{ invoice_number }}",
            email=_letter(
                "we received your payment {{ reference }} of {{ amount }} by {{ method }} "
                "for invoice {{ invoice_number }}.\n"
                "Balance still due: {{ balance_due }}.\n\n"
                "Thank you."
            ),
            sms="caremesh: {{ first_name }}, payment {{ reference }} of {{ amount }} received. Thank you.",
        ),
        EventKind(
            key="payment_failed",
            fields=(*_PAYMENT_FIELDS, "failure_reason"),
            sample={**_PAYMENT_SAMPLE, "reference": "PAY-2026-000043", "failure_reason": "card_declined"},
            money=frozenset({"amount"}),
            words=frozenset({"method", "failure_reason"}),
            optional=frozenset({"failure_reason"}),
            subject="Your payment for invoice {{ invoice_number }} did not go through",
            email=_letter(
                "your payment {{ reference }} of {{ amount }} by {{ method }} for invoice {{ invoice_number }} "
                "did not go through{% if failure_reason %} ({{ failure_reason }}){% endif %}.\n"
                "Nothing was charged. Please try again or choose another way to pay."
            ),
            sms="caremesh: {{ first_name }}, your payment of {{ amount }} did not go through. Nothing was charged.",
        ),
        EventKind(
            key="order_failed",
            fields=("order_id", "failure_reason"),
            sample={"order_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "failure_reason": "INSUFFICIENT_STOCK"},
            words=frozenset({"failure_reason"}),
            optional=frozenset({"failure_reason"}),
            subject="Your order could not be completed",
            email=_letter(
                "your order could not be completed"
                "{% if failure_reason %} because {{ failure_reason }}{% endif %}.\n"
                "Nothing was charged. Your care team will contact you about what happens next."
            ),
            sms="caremesh: {{ first_name }}, your order could not be completed. Your care team will contact you.",
        ),
        EventKind(
            key="lab_result_ready",
            fields=("lab_order_id", "order_id"),
            sample={
                "lab_order_id": "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9",
                "order_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            },
            optional=frozenset({"order_id"}),
            # Results are clinical data: messages say only that they are ready.
            subject="Your lab results are ready",
            email=_letter("your lab results are ready. Please sign in to caremesh or ask your care team to see them."),
            sms="caremesh: {{ first_name }}, your lab results are ready. Sign in or ask your care team.",
        ),
        EventKind(
            key="imaging_reported",
            fields=("imaging_order_id", "order_id"),
            sample={
                "imaging_order_id": "5e4d3c2b-1a0f-4e9d-8c7b-a6f5e4d3c2b1",
                "order_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            },
            optional=frozenset({"order_id"}),
            # A report is clinical data: messages say only that it is ready.
            subject="Your imaging report is ready",
            email=_letter(
                "the report on your imaging study is ready. Please sign in to caremesh or ask your care team to see it."
            ),
            sms="caremesh: {{ first_name }}, your imaging report is ready. Sign in or ask your care team.",
        ),
        EventKind(
            key="order_confirmed",
            fields=("order_id", "number", "type", "invoice_id", "confirmed_at"),
            sample={
                "order_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                "number": "ORD-2026-000042",
                "type": "lab",
                "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
                "confirmed_at": "2026-03-02T10:15:00Z",
            },
            words=frozenset({"type"}),
            instants=frozenset({"confirmed_at"}),
            subject="Your {{ type }} order {{ number }} is confirmed",
            email=_letter(
                "your {{ type }} order {{ number }} is confirmed ({{ confirmed_at }}).\n"
                "Your care team will tell you when and where it is ready."
            ),
            sms="caremesh: {{ first_name }}, your {{ type }} order {{ number }} is confirmed.",
        ),
        EventKind(
            key="order_cancelled",
            fields=("order_id", "number", "type", "reason", "cancelled_at"),
            sample={
                "order_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                "number": "ORD-2026-000042",
                "type": "prescription",
                "reason": "The doctor changed the prescription",
                "cancelled_at": "2026-03-02T11:00:00Z",
            },
            words=frozenset({"type"}),
            instants=frozenset({"cancelled_at"}),
            optional=frozenset({"reason"}),
            subject="Your {{ type }} order {{ number }} is cancelled",
            email=_letter(
                "your {{ type }} order {{ number }} was cancelled on {{ cancelled_at }}.\n"
                "Anything it reserved is released, and you are not charged for it."
            ),
            sms="caremesh: {{ first_name }}, your {{ type }} order {{ number }} is cancelled.",
        ),
        EventKind(
            key="refund_issued",
            fields=(
                "refund_id",
                "reference",
                "payment_id",
                "payment_reference",
                "invoice_id",
                "invoice_number",
                "amount",
                "reason",
                "balance_due",
                "created_at",
            ),
            sample={
                "refund_id": "6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e",
                "reference": "REF-2026-000042",
                "payment_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                "payment_reference": "PAY-2026-000042",
                "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
                "invoice_number": "INV-2026-000042",
                "amount": "500.00",
                "reason": "Overpaid at the desk",
                "balance_due": "500.00",
                "currency": "INR",
                "created_at": "2026-03-03T09:00:00Z",
            },
            money=frozenset({"amount", "balance_due"}),
            instants=frozenset({"created_at"}),
            subject="Refund {{ reference }} of {{ amount }}",
            email=_letter(
                "we refunded {{ amount }} of your payment {{ payment_reference }} for invoice {{ invoice_number }} "
                "({{ reference }}, {{ created_at }}).\n"
                "Balance due on the invoice: {{ balance_due }}."
            ),
            sms="caremesh: {{ first_name }}, we refunded {{ amount }} of payment {{ payment_reference }}.",
        ),
        EventKind(
            key="coverage_created",
            fields=("coverage_id", "scheme_id", "payer_id", "valid_from", "valid_to", "created_at"),
            sample={
                "coverage_id": "2f3e4d5c-6b7a-4981-a0b1-c2d3e4f5a6b7",
                "scheme_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                "payer_id": "0f1e2d3c-4b5a-4697-8877-665544332211",
                "valid_from": "2026-03-01",
                "valid_to": "2027-02-28",
                "created_at": "2026-03-01T08:00:00Z",
            },
            optional=frozenset({"valid_to"}),
            instants=frozenset({"created_at"}),
            subject="Your insurance coverage is on file",
            email=_letter(
                "your insurance coverage is now on file with us, valid from {{ valid_from }}"
                "{% if valid_to %} to {{ valid_to }}{% endif %}.\n"
                "We will bill your insurer for its share of your care."
            ),
            sms="caremesh: {{ first_name }}, your insurance coverage is on file from {{ valid_from }}.",
        ),
        EventKind(
            key="premium_invoice_issued",
            fields=("invoice_id", "number", *_INVOICE_AMOUNTS, "issued_at"),
            sample={
                "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
                "number": "INV-2026-000043",
                "subtotal": "1200.00",
                "discount_amount": "0.00",
                "tax_amount": "144.00",
                "total": "1344.00",
                "insurance_amount": "0.00",
                "patient_amount": "1344.00",
                "balance_due": "1344.00",
                "currency": "INR",
                "issued_at": "2026-03-01T06:00:00Z",
            },
            money=frozenset(_INVOICE_AMOUNTS),
            instants=frozenset({"issued_at"}),
            subject="Your insurance premium: invoice {{ number }}, {{ balance_due }} due",
            email=_letter(
                "your monthly insurance premium is invoiced: invoice {{ number }}, issued on {{ issued_at }}.\n"
                "Premium {{ subtotal }}, tax {{ tax_amount }}, total {{ total }}; {{ balance_due }} is due.\n"
                "Paying on time keeps your coverage in force."
            ),
            sms="caremesh: {{ first_name }}, your premium invoice {{ number }} is issued; {{ balance_due }} is due.",
        ),
        # To the billing office (CAREMESH_BILLING_EMAIL), by email: they carry no patient's name.
        EventKind(
            key="claim_adjudicated",
            fields=(
                "claim_id",
                "number",
                "invoice_id",
                "status",
                "approved_amount",
                "claimed_amount",
                "manual",
                "adjudicated_at",
            ),
            sample={
                "claim_id": "4d3c2b1a-0f9e-4d8c-b7a6-f5e4d3c2b1a0",
                "number": "CLM-2026-000042",
                "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
                "status": "partially_approved",
                "approved_amount": "1200.00",
                "claimed_amount": "1496.88",
                "manual": False,
                "adjudicated_at": "2026-03-04T12:00:00Z",
            },
            money=frozenset({"approved_amount", "claimed_amount"}),
            words=frozenset({"status"}),
            instants=frozenset({"adjudicated_at"}),
            for_patient=False,
            to_billing_office=True,
            subject="Claim {{ number }} {{ status }}: {{ approved_amount }} of {{ claimed_amount }}",
            email=(
                "Claim {{ number }} was adjudicated {{ status }}{% if manual %} by hand{% endif %} "
                "on {{ adjudicated_at }}: {{ approved_amount }} approved of {{ claimed_amount }} claimed." + _SIGN_OFF
            ),
            sms=None,
        ),
        EventKind(
            key="claim_paid",
            fields=("claim_id", "number", "invoice_id", "paid_amount", "remittance_id", "paid_at"),
            sample={
                "claim_id": "4d3c2b1a-0f9e-4d8c-b7a6-f5e4d3c2b1a0",
                "number": "CLM-2026-000042",
                "invoice_id": "0b7f5e1c-2a4d-4e8b-9c3f-6d1a2b3c4d5e",
                "paid_amount": "1200.00",
                "remittance_id": "RA-2026-0042",
                "paid_at": "2026-03-10T09:00:00Z",
            },
            money=frozenset({"paid_amount"}),
            instants=frozenset({"paid_at"}),
            for_patient=False,
            to_billing_office=True,
            subject="Claim {{ number }} paid: {{ paid_amount }}",
            email=(
                "The payer paid {{ paid_amount }} on claim {{ number }} (remittance {{ remittance_id }}, "
                "{{ paid_at }})." + _SIGN_OFF
            ),
            sms=None,
        ),
        EventKind(
            # To the address a patient signed up with, by email only (as a password reset).
            key="email_verification",
            fields=("token", "expires_at", "email"),
            sample={
                "token": "Xq3v9Lw0S7dJ2k8Pz5Rt1Yb4Nc6Hf0Ga3Me7Ui9Oo2Q",
                "expires_at": "2026-03-03T09:00:00Z",
                "email": "asha.rao@example.org",
            },
            instants=frozenset({"expires_at"}),
            secret="token",
            for_patient=False,
            subject="Confirm your caremesh account",
            email=(
                "Hello,\n\n"
                "someone signed up for a caremesh patient account with {{ email }}.\n"
                "To confirm it is you, enter this code:\n\n"
                "    {{ token }}\n\n"
                "It works once, until {{ expires_at }}. If you did not sign up, ignore this email: "
                "no account is opened without it." + _SIGN_OFF
            ),
            sms=None,
        ),
        EventKind(
            # To a user (staff or patient) by email only, never an SMS: whoever reads the phone's lock
            # screen would read the token.
            key="password_reset",
            fields=("token", "expires_at", "email"),
            sample={
                "token": "Xq3v9Lw0S7dJ2k8Pz5Rt1Yb4Nc6Hf0Ga3Me7Ui9Oo2Q",
                "expires_at": "2026-03-02T09:30:00Z",
                "email": "asha.rao@example.org",
            },
            instants=frozenset({"expires_at"}),
            secret="token",
            for_patient=False,
            subject="Reset your caremesh password",
            email=(
                "Hello,\n\n"
                "someone asked to reset the password of the caremesh account {{ email }}.\n"
                "Your reset code is:\n\n"
                "    {{ token }}\n\n"
                "It works once, until {{ expires_at }}. If you did not ask for this, ignore this email: "
                "your password stays as it is." + _SIGN_OFF
            ),
            sms=None,
        ),
    )
}


def template_code(kind: str, channel: Channel) -> str:
    return f"{kind}.{channel.value}"


def parse_code(code: str) -> tuple[EventKind, Channel] | None:
    """The kind and channel a template code names, or None for a code that names none."""
    kind, _, channel = code.rpartition(".")
    if kind not in KINDS or channel not in {c.value for c in KINDS[kind].channels}:
        return None
    return KINDS[kind], Channel(channel)


def default_templates() -> list[tuple[str, Channel, str | None, str]]:
    """(code, channel, subject, body) of every default template."""
    return [
        (template_code(kind.key, channel), channel, *kind.default(channel))
        for kind in KINDS.values()
        for channel in kind.channels
    ]
