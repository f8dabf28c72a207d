from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from caremesh.notifications import service
from caremesh.notifications.domain import Channel, Status
from caremesh.notifications.errors import NotificationNotFound, TemplateNotFound
from caremesh.notifications.models import Notification, NotificationTemplate
from caremesh.notifications.schemas import (
    NotificationRead,
    NotificationSend,
    NotificationTemplateRead,
    NotificationTemplateUpdate,
)
from caremesh.patients.contract import PatientNotFound
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, require, set_etag
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["notifications"], route_class=TransactionalRoute)

TemplateCode = Annotated[str, Path(max_length=100, description="e.g. appointment_booked.email")]


def _read(notification: Notification) -> NotificationRead:
    return NotificationRead.model_validate(notification, from_attributes=True)


def _template_read(template: NotificationTemplate) -> NotificationTemplateRead:
    return NotificationTemplateRead.model_validate(template, from_attributes=True)


@router.get("/notifications", dependencies=[require("notifications:read")])
async def list_notifications(
    uow: Uow,
    page: PageParams = Depends(),
    recipient_id: uuid.UUID | None = None,
    status: Status | None = None,
    channel: Channel | None = None,
    source_event_id: uuid.UUID | None = None,
) -> Page[NotificationRead]:
    rows, cursor = await service.list_notifications(
        uow, recipient_id=recipient_id, status=status, channel=channel, source_event_id=source_event_id, page=page
    )
    return Page(items=[_read(n) for n in rows], next_cursor=cursor)


@router.post(
    "/notifications/send",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("notifications:manage")],
    responses=problems(PatientNotFound, TemplateNotFound),
)
async def send_notification(body: NotificationSend, uow: Uow, response: Response) -> NotificationRead:
    notification = await service.send_notification(uow, body)
    response.headers["Location"] = f"/api/v1/notifications/{notification.id}"
    return _read(notification)


@router.get(
    "/notifications/{notification_id}",
    dependencies=[require("notifications:read")],
    responses=problems(NotificationNotFound),
)
async def get_notification(notification_id: uuid.UUID, uow: Uow) -> NotificationRead:
    return _read(await service.get_notification(uow, notification_id))


def _respond(template: NotificationTemplate, response: Response) -> NotificationTemplateRead:
    set_etag(response, template.version)
    return _template_read(template)


@router.get("/notification-templates", dependencies=[require("notifications:manage")])
async def list_templates(uow: Uow, page: PageParams = Depends()) -> Page[NotificationTemplateRead]:
    rows, cursor = await service.list_templates(uow, page)
    return Page(items=[_template_read(t) for t in rows], next_cursor=cursor)


@router.get(
    "/notification-templates/{code}",
    dependencies=[require("notifications:manage")],
    responses=problems(TemplateNotFound),
)
async def get_template(code: TemplateCode, uow: Uow, response: Response) -> NotificationTemplateRead:
    return _respond(await service.get_template(uow, code), response)


@router.put(
    "/notification-templates/{code}",
    dependencies=[require("notifications:manage")],
    responses=problems(TemplateNotFound),
)
async def update_template(
    code: TemplateCode, body: NotificationTemplateUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> NotificationTemplateRead:
    return _respond(await service.update_template(uow, code, body, if_match), response)
