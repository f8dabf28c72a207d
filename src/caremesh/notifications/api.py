from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from caremesh.notifications import event_templates, service
from caremesh.notifications.errors import NotificationNotFound, TemplateNotFound
from caremesh.notifications.schemas import (
    NotificationFilters,
    NotificationRead,
    NotificationSend,
    NotificationTemplateCreate,
    NotificationTemplateRead,
    NotificationTemplateUpdate,
)
from caremesh.patients.contract import PatientNotFound
from caremesh.platform.api import IfMatch, TransactionalRoute, Uow, read_model, read_page, require
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams

router = APIRouter(tags=["notifications"], route_class=TransactionalRoute)

TemplateCode = Annotated[str, Path(max_length=100, description="e.g. appointment_booked.email")]


@router.get("/notifications", dependencies=[require("notifications:read")])
async def list_notifications(
    uow: Uow, filters: Annotated[NotificationFilters, Depends()], page: Annotated[PageParams, Depends()]
) -> Page[NotificationRead]:
    return read_page(NotificationRead, await service.list_notifications(uow, filters, page))


@router.post(
    "/notifications/send",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("notifications:manage")],
    responses=problems(PatientNotFound, TemplateNotFound),
)
async def send_notification(body: NotificationSend, uow: Uow, response: Response) -> NotificationRead:
    notification = await service.send_notification(uow, body)
    response.headers["Location"] = f"/api/v1/notifications/{notification.id}"
    return read_model(NotificationRead, notification)


@router.get(
    "/notifications/{notification_id}",
    dependencies=[require("notifications:read")],
    responses=problems(NotificationNotFound),
)
async def get_notification(notification_id: uuid.UUID, uow: Uow) -> NotificationRead:
    return read_model(NotificationRead, await service.get_notification(uow, notification_id))


@router.get("/notification-templates", dependencies=[require("notifications:manage")])
async def list_templates(uow: Uow, page: Annotated[PageParams, Depends()]) -> Page[NotificationTemplateRead]:
    return read_page(NotificationTemplateRead, await service.list_templates(uow, page))


@router.post(
    "/notification-templates",
    status_code=status.HTTP_201_CREATED,
    dependencies=[require("notifications:manage")],
    responses=problems(event_templates.TemplateExists),
)
async def create_template(body: NotificationTemplateCreate, uow: Uow, response: Response) -> NotificationTemplateRead:
    """Add a template for any published event that has no built-in one (422 UNKNOWN_EVENT_TYPE otherwise;
    409 TEMPLATE_EXISTS for a taken code or an event and channel with a template). Its variables are the event's
    fields, plus `first_name` and `currency` when the event names a patient (the message then goes to them;
    else to the billing office, by email)."""
    template = await event_templates.create_template(uow, body)
    response.headers["Location"] = f"/api/v1/notification-templates/{template.code}"
    return read_model(NotificationTemplateRead, template, response)


@router.get(
    "/notification-templates/{code}",
    dependencies=[require("notifications:manage")],
    responses=problems(TemplateNotFound),
)
async def get_template(code: TemplateCode, uow: Uow, response: Response) -> NotificationTemplateRead:
    return read_model(NotificationTemplateRead, await service.get_template(uow, code), response)


@router.put(
    "/notification-templates/{code}",
    dependencies=[require("notifications:manage")],
    responses=problems(TemplateNotFound),
)
async def update_template(
    code: TemplateCode, body: NotificationTemplateUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> NotificationTemplateRead:
    return read_model(NotificationTemplateRead, await service.update_template(uow, code, body, if_match), response)
