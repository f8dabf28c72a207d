"""Imaging use cases: the study catalogue, imaging orders booked within capacity, reports, and the order saga's
steps.

Every use case takes the unit of work and flushes; the entrypoint (a route or a consumer) commits. Booking within
each study's daily capacity, the saga's steps and finishing an imaging order are capacity's (`platform.capacity`,
as for lab): what is imaging's own here is its catalogue, its events and what a report records.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from caremesh.audit import contract as audit
from caremesh.imaging.domain import NOT_REPORTABLE, ImagingOrderStatus, SchedulingFailure
from caremesh.imaging.errors import (
    ImagingOrderNotFound,
    ImagingOrderNotReportable,
    ImagingStudyCodeExists,
    ImagingStudyNotFound,
)
from caremesh.imaging.events import ANNOUNCEMENTS, ImagingReported
from caremesh.imaging.models import ONE_STUDY_PER_CODE, ImagingKnownOrder, ImagingOrder, ImagingStudy, ImagingStudyDay
from caremesh.imaging.schemas import ImagingReportCreate, ImagingStudyCreate
from caremesh.platform import fulfilment
from caremesh.platform.capacity.booking import CapacityBookings
from caremesh.platform.repository import Repository
from caremesh.platform.uow import UnitOfWork

# --- imaging studies --------------------------------------------------------------------------------


CATALOGUE: fulfilment.Catalogue[ImagingStudy] = fulfilment.Catalogue(
    ImagingStudy,
    ImagingStudyNotFound,
    entity="imaging_study",
    record=audit.record,
    order_by=[ImagingStudy.code],
    search=[ImagingStudy.code, ImagingStudy.name],
    code_taken=lambda code: ImagingStudyCodeExists(f"An imaging study with code {code} exists."),
    unique=(ONE_STUDY_PER_CODE, "imaging_studies.code"),  # PostgreSQL names the constraint, SQLite the column
)


async def create_imaging_study(uow: UnitOfWork, data: ImagingStudyCreate) -> ImagingStudy:
    return await CATALOGUE.add(uow, **data.model_dump())


# Reads are the repositories' own (`load`: a 404 when missing; `get`: also audited), under the API's names.
get_imaging_study = CATALOGUE.entries.load
list_imaging_studies = CATALOGUE.list


# --- imaging orders: reads ----------------------------------------------------------------------------


# A patient-role principal sees only their own imaging orders; others do not exist for them.
IMAGING_ORDERS: Repository[ImagingOrder] = audit.repository(
    ImagingOrder,
    ImagingOrderNotFound,
    entity="imaging_order",
    owner=ImagingOrder.patient_id,
    # as they were booked: by time, then by order and the item's place in it
    order_by=[ImagingOrder.created_at, ImagingOrder.order_id, ImagingOrder.position],
)


get_imaging_order = IMAGING_ORDERS.get
list_imaging_orders = IMAGING_ORDERS.list


# --- the saga's steps (consumers of order.*, see handlers.py) -----------------------------------------


BOOKINGS: CapacityBookings[ImagingStudy, ImagingOrder, ImagingKnownOrder] = CapacityBookings(
    catalogue=ImagingStudy,
    days=ImagingStudyDay,
    bookings=ImagingOrder,
    known=ImagingKnownOrder,
    entry_column="imaging_study_id",
    done=ImagingOrderStatus.REPORTED,
    no_capacity=SchedulingFailure.NO_IMAGING_CAPACITY,
    not_found=SchedulingFailure.IMAGING_STUDY_NOT_FOUND,
    entity="imaging_order",
    record=audit.record,
    announce=ANNOUNCEMENTS,
)


# --- reports -------------------------------------------------------------------------------------------


async def report(uow: UnitOfWork, imaging_order_id: uuid.UUID, data: ImagingReportCreate) -> ImagingOrder:
    """Report a scheduled imaging order of a confirmed order, once. Publishes imaging.reported (without the report)
    with `order_fully_reported` when no imaging order of the order is left to report."""

    def with_report(imaging_order: ImagingOrder, now: datetime) -> None:
        imaging_order.findings, imaging_order.impression = data.findings, data.impression
        imaging_order.reported_at = now
        imaging_order.reported_by = None if uow.actor is None else uow.actor.user_id

    return await BOOKINGS.finish(
        uow,
        await IMAGING_ORDERS.load(uow, imaging_order_id),
        lambda why: ImagingOrderNotReportable(NOT_REPORTABLE[why]),
        with_report,
        announce=ImagingReported,
        action="report",
    )
