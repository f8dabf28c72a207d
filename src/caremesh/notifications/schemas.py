from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from caremesh.notifications import published
from caremesh.notifications.domain import Channel, Status
from caremesh.platform.repository import ListFilters
from caremesh.platform.schemas import Strict
from caremesh.platform.timeutil import OutDateTime


def _one_line(subject: str) -> str:
    """A subject is one header line: no control characters (CR, LF, tab, …) and no Unicode line breaks.
    Rendered subjects are folded to one line instead (rendering.one_line); a written one is refused."""
    if any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in subject):
        raise ValueError("must be one line, without control characters")
    return subject


SubjectText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_one_line)
]
BodyText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
TemplateCode = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Recipient = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
DataValue = str | int | float | bool | None


class NotificationSend(Strict):
    """A message by hand: to a patient (`recipient_id`) or an address (`recipient`), either written
    out (`channel`, `subject` for email, `body`) or made from a template and its variables."""

    recipient_id: uuid.UUID | None = Field(None, description="A patient; their email or phone is used")
    recipient: Recipient | None = Field(None, description="An email address or phone number")
    channel: Channel | None = Field(None, description="Required with `body`; with `template`, the template's")
    subject: SubjectText | None = None
    body: BodyText | None = None
    template: TemplateCode | None = Field(None, description="A template code, e.g. appointment_booked.email")
    data: dict[Annotated[str, StringConstraints(max_length=100)], DataValue] | None = Field(
        None, max_length=50, description="The template's variables; `first_name` comes from the patient"
    )

    @model_validator(mode="after")
    def _one_way_each(self) -> Self:
        if (self.recipient_id is None) == (self.recipient is None):
            raise ValueError("give either recipient_id (a patient) or recipient (an address)")
        if (self.body is None) == (self.template is None):
            raise ValueError("give either body (with channel) or template (with data)")
        if self.template is not None:
            if self.subject is not None:
                raise ValueError("a templated message takes its subject from the template")
            return self
        if self.channel is None:
            raise ValueError("channel is required with body")
        if self.data is not None:
            raise ValueError("data goes with template")
        if self.channel is Channel.EMAIL and self.subject is None:
            raise ValueError("an email needs a subject")
        if self.channel is Channel.SMS and self.subject is not None:
            raise ValueError("an SMS has no subject")
        return self


@dataclass(frozen=True, kw_only=True)
class NotificationFilters(ListFilters):
    recipient_id: uuid.UUID | None = None
    status: Status | None = None
    channel: Channel | None = None
    source_event_id: uuid.UUID | None = None


class NotificationRead(BaseModel):
    id: uuid.UUID
    channel: Channel
    recipient: str
    recipient_id: uuid.UUID | None
    template: str | None
    subject: str | None
    body: str
    status: Status
    attempts: int
    source_event_id: uuid.UUID | None
    last_error: str | None
    next_attempt_at: OutDateTime | None
    sent_at: OutDateTime | None
    created_at: OutDateTime


class NotificationTemplateUpdate(Strict):
    subject: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        None, description="Required for email templates; SMS templates have none"
    )
    body: BodyText


def _answers(template: Any) -> dict[str, Any]:
    """A stored template's columns with what they tell: the event it answers and the variables that event gives."""
    if isinstance(template, Mapping):
        return dict(template)
    found = published.template_kind(template.code, template.event_type, template.channel)
    if found is None:  # only bootstrap and POST create templates, for events that exist
        raise LookupError(f"no event for template {template.code}")
    kind, _channel, event_type = found
    columns = {name: getattr(template, name) for name in _TEMPLATE_COLUMNS}
    return {**columns, "event_type": event_type, "variables": kind.variables}


_TEMPLATE_COLUMNS = ("code", "channel", "subject", "body", "version", "created_at", "updated_at")


# A stored template, with the event that makes its messages and the variables that event gives it (read from the
# template by a before-validator: a computed field would publish readOnly). No docstring: it would show in the
# OpenAPI document.
class NotificationTemplateRead(BaseModel):
    code: str
    event_type: str
    channel: Channel
    subject: str | None
    body: str
    variables: list[str]
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime

    @model_validator(mode="before")
    @classmethod
    def _from_template(cls, template: Any) -> dict[str, Any]:
        return _answers(template)


class NotificationTemplateCreate(Strict):
    """A template for any published event other than those with built-in templates (edited with PUT)."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")] = Field(
        description="Lower-case letters, digits, `_`, `.` and `-`, e.g. claim_submitted.email"
    )
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="A published event type, e.g. claim.submitted (else 422 UNKNOWN_EVENT_TYPE)"
    )
    channel: Channel
    subject: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        None, description="Required for email templates; SMS templates have none"
    )
    body: BodyText
