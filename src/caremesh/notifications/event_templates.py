"""Templates added for any published event (`POST /notification-templates`), and the messages they make.

Notifications subscribes to every published event that has no built-in template (published.templatable_events),
so a template added at run time is honoured from its first event on, in every process and in the distributed mode
alike, without a restart; an event with no added template is recorded as handled and makes nothing. A message goes
to the patient the event names (`patient_id`: their email address or phone number), else to the billing office
(CAREMESH_BILLING_EMAIL, email only; unset: nothing is sent). One message per event and channel, however often the
event is delivered (the consumer's inbox, and the unique (source_event_id, channel)).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from caremesh.audit import contract as audit
from caremesh.notifications import catalogue, domain, published, rendering
from caremesh.notifications.domain import Channel
from caremesh.notifications.models import NotificationTemplate
from caremesh.notifications.rendering import TemplateProblem
from caremesh.notifications.schemas import NotificationTemplateCreate
from caremesh.notifications.service import (
    _queue,
    _queued,
    _render_event,
    _skip,
    billing_office,
    render_off_loop,
)
from caremesh.patients.contract import find_patient
from caremesh.platform.errors import Conflict, invalid_field
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.events import IntegrationEvent
from caremesh.platform.timeutil import clinic_timezone
from caremesh.platform.uow import UnitOfWork


class TemplateExists(Conflict):
    code, title = "TEMPLATE_EXISTS", "A template with this code, or for this event and channel, exists"


async def create_template(uow: UnitOfWork, data: NotificationTemplateCreate) -> NotificationTemplate:
    """Add a template for a published event once it compiles in the sandbox and renders against a sample of the
    event (also without each optional field), like a PUT. One per event type and channel, held by the database."""
    if data.event_type in published.BUILT_IN_EVENT_TYPES:
        raise TemplateExists(
            f"{data.event_type} messages have built-in templates: "
            "change them with PUT /notification-templates/{code}."
        )
    if data.event_type not in published.templatable_events():
        raise invalid_field("event_type", "is not an event that caremesh publishes", code="UNKNOWN_EVENT_TYPE")
    if catalogue.parse_code(data.code) is not None:
        raise TemplateExists(f"{data.code} is a built-in template's code.")
    kind = published.kind_for(data.event_type)
    if data.channel is Channel.SMS and not kind.for_patient:
        raise invalid_field(
            "channel", f"{data.event_type} names no patient: its messages go to the billing office by email"
        )
    if data.channel is Channel.EMAIL and data.subject is None:
        raise invalid_field("subject", "an email template needs a subject")
    if data.channel is Channel.SMS and data.subject is not None:
        raise invalid_field("subject", "an SMS template has no subject")
    try:
        await render_off_loop(rendering.check_template, kind, data.channel, data.subject, data.body, clinic_timezone())
    except TemplateProblem as problem:
        raise invalid_field(problem.field, problem.message, code="INVALID_TEMPLATE") from problem
    now = uow.now()
    template = NotificationTemplate(
        code=data.code,
        event_type=data.event_type,
        channel=data.channel.value,
        subject=data.subject,
        body=data.body,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(template)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError as error:  # the code, or the event type and channel, taken (perhaps just now)
        raise TemplateExists() from error
    audit.record(uow, "notification_template.create", "notification_template", template.code)
    return template


async def notify_by_template(uow: UnitOfWork, event: IntegrationEvent, envelope: Envelope) -> list[uuid.UUID]:
    """Queue the messages the templates added for this event's type make: one per template (so per channel).
    Rendered before any is written; a template that fails for this event gives way to a neutral default."""
    templates = (
        await uow.session.scalars(
            select(NotificationTemplate)
            .where(NotificationTemplate.event_type == envelope.type)
            .order_by(NotificationTemplate.channel)
        )
    ).all()
    if not templates:
        return []
    kind = published.kind_for(envelope.type)
    facts = event.to_payload()  # what templates see: the fields as they travel
    currency = uow.settings.app.currency
    recipient_id: uuid.UUID | None = None
    first_name = ""
    addresses: dict[Channel, str] = {}
    if kind.for_patient:
        patient_id = getattr(event, "patient_id", None)
        patient = await find_patient(uow.session, patient_id) if isinstance(patient_id, uuid.UUID) else None
        if patient is None:
            return _skip(envelope, "patient_unknown")
        recipient_id, first_name = patient.id, patient.first_name
        addresses = dict(domain.addresses(patient.email, patient.phone))
    elif (office := billing_office(uow)) is not None:
        addresses = {Channel.EMAIL: office}
    variables = domain.variables_for(kind, facts, first_name=first_name, currency=currency, tz=clinic_timezone())
    now = uow.now()
    rows: list[dict[str, Any]] = []
    for template in templates:
        channel = Channel(template.channel)
        if channel not in addresses:
            continue
        message = await _render_event(kind, channel, (template.subject, template.body), variables)
        rows.append(
            _queued(
                now,
                channel,
                addresses[channel],
                message,
                recipient_id=recipient_id,
                template=template.code,
                source_event_id=envelope.id,
            )
        )
    if not rows:
        return _skip(envelope, "no_contact")
    created = []
    for row in rows:
        if (new_id := await _queue(uow, row)) is not None:
            created.append(new_id)
    return created
