"""Pure rules of notifications: which events make which messages, their variables, retry timing.

A template's code is `<kind>.<channel>`, e.g. `appointment_booked.email`. Each kind names the event
fields its templates may use; the variables are exactly those (absent ones are None), plus
`first_name` and `currency` for a patient's message. A template is kept once it renders against the
kind's sample, also without its optional fields; a real event can still break it (a value the sample
lacks), and then the message is made from the default template. Money is shown with its currency,
instants in the clinic timezone.

Templates run in a sandbox bounded in time (RENDER_SECONDS) and size: see `rendering._Sandbox`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Status(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


SUBJECT_MAX = 200  # characters of a rendered subject; longer ones are cut
BODY_MAX = 20_000  # characters of a rendered body; longer ones are refused
REPEAT_MAX = 1_000  # items `'-' * n` may make in a template
VALUE_MAX = BODY_MAX  # characters (or items) of any value a template makes on its way
WIDTH_MAX = 1_000  # widths, lengths and counts given to padding, wrapping and batching
RANGE_MAX = 1_000  # numbers one `range()` may make
LOOP_MAX = 10_000  # loop iterations of one render, all loops together
INT_BITS = 1_024  # how large a product of whole numbers may grow
RENDER_SECONDS = 2.0  # how long one render may run
SECRET_PLACEHOLDER = "[redacted]"  # what stored messages show for a secret (a reset token)
CENT = Decimal("0.01")

# Codes other contexts put in `failure_reason`, in words a patient understands.
REASONS = {
    "INSUFFICIENT_STOCK": "a medication is out of stock",
    "NO_LAB_CAPACITY": "no laboratory slot is free in the next 14 days",
    "NO_IMAGING_CAPACITY": "no imaging slot is free in the next 14 days",
}


@dataclass(frozen=True)
class EventKind:
    """What one kind of event may say: its variables, a sample event, and the default templates.

    `optional` fields may be absent (None) in real events; templates are checked with them absent too.
    `secret` names a field that never reaches a stored message: templates render it as SECRET_PLACEHOLDER,
    and the dispatcher puts the real value in only when it sends (see `reveal`).
    """

    key: str
    fields: tuple[str, ...]
    sample: Mapping[str, Any]
    subject: str
    email: str
    sms: str | None
    money: frozenset[str] = frozenset()
    instants: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    secret: str | None = None
    for_patient: bool = True  # a patient's message: `first_name` and `currency` are variables too
    to_billing_office: bool = False  # sent to CAREMESH_BILLING_EMAIL (by email), not to the patient

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(channel for channel in Channel if channel is Channel.EMAIL or self.sms is not None)

    @property
    def variables(self) -> list[str]:
        return sorted({*self.fields, *(("first_name", "currency") if self.for_patient else ())})

    def default(self, channel: Channel) -> tuple[str | None, str]:
        """(subject, body) of the default template for `channel`."""
        if channel is Channel.EMAIL:
            return self.subject, self.email
        if self.sms is None:
            raise LookupError(f"{self.key} messages are not sent by {channel}")
        return None, self.sms


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

SAMPLE_FIRST_NAME = "Asha"
SAMPLE_CURRENCY = "INR"


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


# --- variables -----------------------------------------------------------------------------------


def format_money(amount: Any, currency: str) -> str:
    """`1680` -> `INR 1680.00`, rounded HALF_UP to cents."""
    try:
        value = Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as error:
        raise ValueError(f"not an amount: {amount!r}") from error
    return f"{currency} {value}"


def format_instant(value: Any, tz: tzinfo) -> str:
    """An RFC 3339 instant as the clinic reads it: `Monday 2 March 2026, 09:00 UTC`."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {local.tzname()}"


def humanize(value: Any) -> str:
    """`general_practice` -> `general practice`; known failure codes become a sentence part."""
    text = str(value)
    return REASONS.get(text, text.replace("_", " ").lower())


def variables_for(
    kind: EventKind, facts: Mapping[str, Any], *, first_name: str, currency: str, tz: tzinfo
) -> dict[str, Any]:
    """The variables a template of `kind` sees for one event, from its fields as they travel (a typed event's
    `to_payload()`, or a kind's sample). Raises ValueError on a malformed field.

    The secret field, if the kind has one, is SECRET_PLACEHOLDER whatever the event says."""
    currency = str(facts.get("currency") or currency)
    values: dict[str, Any] = {"first_name": first_name, "currency": currency} if kind.for_patient else {}
    for name in kind.fields:
        raw = facts.get(name)
        if name == kind.secret:
            values[name] = SECRET_PLACEHOLDER
        elif raw is None:
            values[name] = None
        elif name in kind.money:
            values[name] = format_money(raw, currency)
        elif name in kind.instants:
            values[name] = format_instant(raw, tz)
        elif name in kind.words:
            values[name] = humanize(raw)
        else:
            values[name] = raw
    return values


def sample_variables(kind: EventKind, tz: tzinfo = UTC) -> dict[str, Any]:
    return variables_for(kind, kind.sample, first_name=SAMPLE_FIRST_NAME, currency=SAMPLE_CURRENCY, tz=tz)


def check_variants(kind: EventKind, tz: tzinfo = UTC) -> list[tuple[str | None, dict[str, Any]]]:
    """The events a template must render for before it is kept, as (what differs from the sample, variables):
    the sample; the sample without any optional field; the sample without each optional field alone."""
    without = [sorted(kind.optional)] + ([[name] for name in sorted(kind.optional)] if len(kind.optional) > 1 else [])
    variants: list[tuple[str | None, dict[str, Any]]] = [(None, sample_variables(kind, tz))]
    for names in without:
        if names:
            facts = {key: value for key, value in kind.sample.items() if key not in names}
            variables = variables_for(kind, facts, first_name=SAMPLE_FIRST_NAME, currency=SAMPLE_CURRENCY, tz=tz)
            variants.append((f"{' and '.join(names)} absent (None)", variables))
    return variants


def reveal(text: str, secret: str | None) -> str:
    """The text as sent: the secret where the stored text shows SECRET_PLACEHOLDER."""
    return text if secret is None else text.replace(SECRET_PLACEHOLDER, secret)


# --- recipients and delivery ---------------------------------------------------------------------


def addresses(email: str | None, phone: str | None) -> list[tuple[Channel, str]]:
    """One message per channel the patient can be reached on: email when they have an address,
    SMS when they have a phone number."""
    found = []
    if email:
        found.append((Channel.EMAIL, email))
    if phone:
        found.append((Channel.SMS, phone))
    return found


@dataclass(frozen=True)
class OutgoingMessage:
    """A claimed message on its way to a channel. `attempts` includes this attempt."""

    id: uuid.UUID
    channel: Channel
    recipient: str = field(repr=False)
    subject: str | None = field(repr=False)
    body: str = field(repr=False)
    attempts: int


def backoff_seconds(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Delay before the next attempt after `attempt` failed ones: base·2^(attempt-1), capped, scaled
    by a factor in [0.5, 1] from `jitter` in [0, 1], so messages that failed together spread out."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0 <= jitter <= 1:
        raise ValueError("jitter lies in [0, 1]")
    return min(cap, base * 2 ** min(attempt - 1, 62)) * (0.5 + jitter / 2)


def status_after_failure(attempts: int, max_attempts: int) -> Status:
    """Queued for another try, or failed for good once `max_attempts` attempts were made."""
    return Status.FAILED if attempts >= max_attempts else Status.QUEUED


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False  # TLS from the first byte (smtps, port 465)
    start_tls: bool | None = None  # True: required, False: never, None: when the server offers it


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _flag(query: dict[str, list[str]], name: str) -> bool | None:
    if name not in query:
        return None
    value = query[name][-1].lower()
    if value in _TRUE or value == "":
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false")


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://user:password@host:port?starttls=true`, `smtp://host?ssl=true` or `smtps://host`.

    Without a port: 465 with TLS, 587 with STARTTLS required, else 25.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        raise ValueError("an SMTP URL starts with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("an SMTP URL names a host")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls", "ssl"}
    if unknown:
        raise ValueError(f"unknown SMTP URL options: {', '.join(sorted(unknown))}")
    use_tls = parts.scheme == "smtps" or bool(_flag(query, "ssl"))
    start_tls = False if use_tls else _flag(query, "starttls")
    port = parts.port or (465 if use_tls else 587 if start_tls else 25)
    return SmtpTarget(
        hostname=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )
