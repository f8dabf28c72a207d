"""Use cases of notifications. They flush; the entrypoint (request, consumer or dispatcher) commits.

Messages are rendered when they are queued (the stored subject and body are what is sent) and sent
later, outside any transaction, by the dispatcher in jobs.py, which uses `claim_due`,
`record_sent` and `record_failure` in delivery.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from caremesh.audit import contract as audit
from caremesh.identity import contract as identity
from caremesh.notifications import catalogue, domain, published, rendering
from caremesh.notifications.domain import Channel, Status
from caremesh.notifications.errors import NotificationNotFound, TemplateNotFound
from caremesh.notifications.models import Notification, NotificationTemplate
from caremesh.notifications.rendering import TemplateProblem
from caremesh.notifications.schemas import NotificationSend, NotificationTemplateUpdate
from caremesh.notifications.triggers import (
    EMAIL_VERIFICATION,
    OFFICE_EVENTS,
    PASSWORD_RESET,
    OfficeEvent,
    PatientEvent,
    kind_of,
)
from caremesh.patients.contract import PatientNotFound, find_patient
from caremesh.platform.db import dialect_insert
from caremesh.platform.errors import check_version, invalid_field
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.pagination import PageParams
from caremesh.platform.repository import Repository
from caremesh.platform.schemas import Email, Phone
from caremesh.platform.timeutil import clinic_timezone
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.notifications")

# What a reset token may look like: printable ASCII without spaces (identity makes 43 URL-safe characters).
_TOKEN = re.compile(r"[\x21-\x7e]{1,200}")
# How much longer than a render's own time limit we wait for the worker thread before giving up on it.
_RENDER_GRACE_SECONDS = 0.5
_T = TypeVar("_T")

_EMAIL = TypeAdapter(Email)
_PHONE = TypeAdapter(Phone)


# A patient-role principal sees only the messages to themselves; the others (also those sent to bare addresses,
# with no recipient_id) do not exist for them.
NOTIFICATIONS: Repository[Notification] = audit.repository(
    Notification,
    NotificationNotFound,
    entity="notification",
    owner=Notification.recipient_id,
    order_by=[Notification.created_at, Notification.id],  # oldest first
)


def _no_template(code: str) -> str:
    return f"There is no template {code!r}."


# Templates are for staff who may manage them (no owner); reading one is not audited.
TEMPLATES: Repository[NotificationTemplate] = audit.repository(
    NotificationTemplate,
    TemplateNotFound,
    entity="notification_template",
    key=NotificationTemplate.code,
    detail=_no_template,
    audit_lists=False,
    order_by=[NotificationTemplate.code],
)


async def bootstrap(uow: UnitOfWork) -> None:
    """Create the default template of every kind and channel that does not exist yet; edits stay."""
    now = uow.now()
    rows = [
        {
            "code": code,
            "channel": channel.value,
            "subject": subject,
            "body": body,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for code, channel, subject, body in catalogue.default_templates()
    ]
    statement = (
        dialect_insert(uow.session)(NotificationTemplate).values(rows).on_conflict_do_nothing(index_elements=["code"])
    )
    await uow.session.execute(statement)


# --- from events -----------------------------------------------------------------------------------


def _skip(envelope: Envelope, reason: str) -> list[uuid.UUID]:
    # Handled, not failed: retrying cannot find a recipient that does not exist.
    log.info("notification_skipped", event_type=envelope.type, event_id=str(envelope.id), reason=reason)
    return []


async def _templates(uow: UnitOfWork, kind: domain.EventKind) -> dict[Channel, tuple[str | None, str]]:
    """(subject, body) per channel: the stored templates, the defaults where none is stored."""
    codes = {catalogue.template_code(kind.key, channel): channel for channel in kind.channels}
    stored = await uow.session.scalars(select(NotificationTemplate).where(NotificationTemplate.code.in_(codes)))
    found = {channel: kind.default(channel) for channel in kind.channels}
    for template in stored:
        found[codes[template.code]] = (template.subject, template.body)
    return found


async def render_off_loop(
    render: Callable[..., _T], *args: Any, time_limit: float = domain.RENDER_SECONDS, field: str = "body"
) -> _T:
    """Run `render(*args, time_limit=…)` in a worker thread, so the event loop serves everyone else meanwhile.

    The render stops itself at its time limit (rendering.RenderBudget); should it not, we stop waiting
    shortly after and report the template as too slow.
    """
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(render, *args, time_limit=time_limit), time_limit + _RENDER_GRACE_SECONDS
        )
    except TimeoutError as error:
        raise TemplateProblem(field, f"takes longer than {time_limit:g} s to render") from error


async def _render_event(
    kind: domain.EventKind, channel: Channel, template: tuple[str | None, str], variables: dict[str, Any]
) -> tuple[str | None, str]:
    """The message an event makes on one channel, from its template; should an edited template fail for
    this event, from the default one instead, so the recipient still hears. Only a failing default fails
    the event."""
    default = kind.default(channel)
    try:
        return await render_off_loop(rendering.render_kind, kind, channel, *template, variables)
    except TemplateProblem as problem:
        if template == default:
            raise
        log.warning(
            "notification_template_failed",
            template=catalogue.template_code(kind.key, channel),
            error_type=type(problem.__cause__ or problem).__name__,
        )
    return await render_off_loop(rendering.render_kind, kind, channel, *default, variables)


def _queued(
    now: datetime,
    channel: Channel,
    address: str,
    message: tuple[str | None, str],
    *,
    recipient_id: uuid.UUID | None,
    template: str | None,
    source_event_id: uuid.UUID | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """The columns of a new message, (subject, body) as rendered, queued and due at once."""
    subject, body = message
    return {
        "id": uuid.uuid4(),
        "channel": channel.value,
        "recipient": address,
        "recipient_id": recipient_id,
        "template": template,
        "subject": subject,
        "body": body,
        "secret": secret,
        "status": Status.QUEUED.value,
        "attempts": 0,
        "source_event_id": source_event_id,
        "next_attempt_at": now,
        "created_at": now,
    }


async def _queue(uow: UnitOfWork, row: dict[str, Any]) -> uuid.UUID | None:
    """Insert one message made from an event; None when the event already made it (a redelivery)."""
    statement = (
        dialect_insert(uow.session)(Notification)
        .values(row)
        .on_conflict_do_nothing(index_elements=["source_event_id", "channel"])
        .returning(Notification.id)
    )
    new_id = await uow.session.scalar(statement)
    if new_id is not None:
        audit.record(uow, "notification.create", "notification", new_id)
    return new_id


async def notify_patient(uow: UnitOfWork, event: PatientEvent, envelope: Envelope) -> list[uuid.UUID]:
    """Queue one message per channel the event's patient can be reached on; returns the new ids.

    Every message is rendered before any is written, and all are written in the consumer's
    transaction: a failing render leaves nothing behind, and the redelivery starts over. The
    unique (source_event_id, channel) makes a second delivery of the event a no-op here too.
    An edited template that fails for this event gives way to the default (see `_render_event`). Templates
    see the event's fields as they travel (`to_payload()`), so their variables do not depend on Python types.
    """
    kind = catalogue.KINDS[kind_of(event)]
    patient = await find_patient(uow.session, event.patient_id)
    if patient is None:
        return _skip(envelope, "patient_unknown")
    targets = domain.addresses(patient.email, patient.phone)
    if not targets:
        return _skip(envelope, "no_contact")
    variables = domain.variables_for(
        kind,
        event.to_payload(),
        first_name=patient.first_name,
        currency=uow.settings.app.currency,
        tz=clinic_timezone(),
    )
    templates = await _templates(uow, kind)
    now = uow.now()
    rows = [
        _queued(
            now,
            channel,
            address,
            await _render_event(kind, channel, templates[channel], variables),
            recipient_id=patient.id,
            template=catalogue.template_code(kind.key, channel),
            source_event_id=envelope.id,
        )
        for channel, address in targets
    ]
    created = []
    for row in rows:
        if (new_id := await _queue(uow, row)) is not None:
            created.append(new_id)
    return created


def billing_office(uow: UnitOfWork) -> str | None:
    """The billing office's address (CAREMESH_BILLING_EMAIL), or None when unset or not an address."""
    address = uow.settings.notifications.billing_email
    if not address:
        return None
    try:
        return str(_EMAIL.validate_python(address))
    except ValidationError:
        return None


async def notify_billing_office(uow: UnitOfWork, event: OfficeEvent, envelope: Envelope) -> list[uuid.UUID]:
    """Queue the email a claim event makes for the billing office; nothing when no office address is set."""
    kind = catalogue.KINDS[OFFICE_EVENTS[type(event)]]
    address = billing_office(uow)
    if address is None:
        return _skip(envelope, "no_billing_email")
    variables = domain.variables_for(
        kind, event.to_payload(), first_name="", currency=uow.settings.app.currency, tz=clinic_timezone()
    )
    templates = await _templates(uow, kind)
    row = _queued(
        uow.now(),
        Channel.EMAIL,
        address,
        await _render_event(kind, Channel.EMAIL, templates[Channel.EMAIL], variables),
        recipient_id=None,
        template=catalogue.template_code(kind.key, Channel.EMAIL),
        source_event_id=envelope.id,
    )
    new_id = await _queue(uow, row)
    return [] if new_id is None else [new_id]


async def send_password_reset(
    uow: UnitOfWork, event: identity.PasswordResetRequested, envelope: Envelope
) -> uuid.UUID | None:
    """Queue the email that carries a password reset token to the address the user signed up with."""
    return await _send_token(uow, PASSWORD_RESET, event.email, event.reset_token, event, envelope)


async def send_email_verification(
    uow: UnitOfWork, event: identity.EmailVerificationRequested, envelope: Envelope
) -> uuid.UUID | None:
    """Queue the email that carries a self-registration's verification token to the address being verified."""
    return await _send_token(uow, EMAIL_VERIFICATION, event.email, event.verification_token, event, envelope)


async def _send_token(
    uow: UnitOfWork,
    kind_key: str,
    email: str,
    token: str,
    event: identity.PasswordResetRequested | identity.EmailVerificationRequested,
    envelope: Envelope,
) -> uuid.UUID | None:
    """Queue an email that carries a one-time token of identity's.

    The stored message shows the token as domain.SECRET_PLACEHOLDER; the token itself waits in `secret`
    for the dispatcher, which puts it in when sending and clears it once the message is sent or failed.
    The message has no recipient_id (it is to a user, not a patient), so no patient-role user sees it.
    """
    kind = catalogue.KINDS[kind_key]
    if not _TOKEN.fullmatch(token):
        _skip(envelope, "no_token")
        return None
    try:
        address = str(_EMAIL.validate_python(email))
    except ValidationError:
        _skip(envelope, "no_email")
        return None
    facts = {"token": token, "expires_at": event.expires_at, "email": address}
    variables = domain.variables_for(
        kind, facts, first_name="", currency=uow.settings.app.currency, tz=clinic_timezone()
    )
    templates = await _templates(uow, kind)
    message = await _render_event(kind, Channel.EMAIL, templates[Channel.EMAIL], variables)
    row = _queued(
        uow.now(),
        Channel.EMAIL,
        address,
        message,
        recipient_id=None,
        template=catalogue.template_code(kind.key, Channel.EMAIL),
        source_event_id=envelope.id,
        secret=token,
    )
    return await _queue(uow, row)


# --- by hand -------------------------------------------------------------------------------------


def _checked_address(channel: Channel, recipient: str) -> str:
    try:
        if channel is Channel.EMAIL:
            return str(_EMAIL.validate_python(recipient))
        return _PHONE.validate_python(recipient)
    except ValidationError as error:
        wanted = "an email address" if channel is Channel.EMAIL else "a phone number: + and 7 to 15 digits"
        raise invalid_field("recipient", f"must be {wanted}") from error


async def send_notification(uow: UnitOfWork, data: NotificationSend) -> Notification:
    """Queue a message written by hand, or made from a template and `data`."""
    session = uow.session
    template: NotificationTemplate | None = None
    channel = data.channel
    if data.template is not None:
        template = await TEMPLATES.load(uow, data.template)
        if channel is not None and channel.value != template.channel:
            raise invalid_field("channel", f"the template {template.code} is for {template.channel}")
        parsed = catalogue.parse_code(template.code)
        if parsed is not None and parsed[0].secret is not None:
            # Its secret would be stored as given in `data`; these messages come only from their event.
            raise invalid_field("template", f"{template.code} messages are sent only when their event happens")
        channel = Channel(template.channel)
    assert channel is not None  # the schema requires it without a template
    variables: dict[str, Any] = dict(data.data or {})
    if data.recipient_id is not None:
        patient = await find_patient(session, data.recipient_id)
        if patient is None:
            raise PatientNotFound()
        address = patient.email if channel is Channel.EMAIL else patient.phone
        if not address:
            missing = "email address" if channel is Channel.EMAIL else "phone number"
            raise invalid_field("recipient_id", f"the patient has no {missing}", code="NO_CONTACT_ADDRESS")
        variables["first_name"] = patient.first_name
    else:
        assert data.recipient is not None
        address = _checked_address(channel, data.recipient)
    if template is not None:
        try:
            message = await render_off_loop(
                rendering.render_message, channel, template.subject, template.body, variables
            )
        except TemplateProblem as problem:
            raise invalid_field("data", problem.message, code="INVALID_TEMPLATE_DATA") from problem
    else:
        message = data.subject, data.body or ""
    notification = Notification(
        **_queued(
            uow.now(),
            channel,
            address,
            message,
            recipient_id=data.recipient_id,
            template=template.code if template else None,
        )
    )
    session.add(notification)
    await session.flush()
    audit.record(uow, "notification.send", "notification", notification.id)
    return notification


# --- reads ---------------------------------------------------------------------------------------


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_notification = NOTIFICATIONS.get
list_notifications = NOTIFICATIONS.list


# --- templates -----------------------------------------------------------------------------------


async def list_templates(uow: UnitOfWork, page: PageParams) -> tuple[list[NotificationTemplate], str | None]:
    """Templates in order of code; not audited."""
    return await TEMPLATES.list(uow, None, page)


async def _template(
    uow: UnitOfWork, code: str, *, for_update: bool = False
) -> tuple[NotificationTemplate, domain.EventKind, Channel]:
    """The template with this code, and the kind and channel it is for; a template that answers no event (a
    code that names no kind, an event no longer published) is not found either."""
    template = await TEMPLATES.load(uow, code, for_update=for_update)
    found = published.template_kind(template.code, template.event_type, template.channel)
    if found is None:
        raise TemplateNotFound(_no_template(code))
    kind, channel, _event_type = found
    return template, kind, channel


async def get_template(uow: UnitOfWork, code: str) -> NotificationTemplate:
    template, _kind, _channel = await _template(uow, code)
    return template


async def update_template(
    uow: UnitOfWork, code: str, data: NotificationTemplateUpdate, expected_version: int | None
) -> NotificationTemplate:
    """Replace a template's text once it compiles in the sandbox and renders against its kind's sample,
    also without the sample's optional fields (domain.check_variants), within the render time limit."""
    template, kind, channel = await _template(uow, code, for_update=True)
    check_version(template.version, expected_version)
    try:
        await render_off_loop(rendering.check_template, kind, channel, data.subject, data.body, clinic_timezone())
    except TemplateProblem as problem:
        raise invalid_field(problem.field, problem.message, code="INVALID_TEMPLATE") from problem
    template.subject, template.body = data.subject, data.body
    template.updated_at = uow.now()
    flag_modified(template, "updated_at")  # every accepted PUT is a new version
    await uow.session.flush()
    audit.record(uow, "notification_template.update", "notification_template", template.code)
    return template
