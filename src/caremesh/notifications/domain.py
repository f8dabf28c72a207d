"""Pure rules of notifications: what a kind of message is (`EventKind`; the built-in ones are in `catalogue`),
its variables, retry timing.

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


SAMPLE_FIRST_NAME = "Asha"
SAMPLE_CURRENCY = "INR"

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
