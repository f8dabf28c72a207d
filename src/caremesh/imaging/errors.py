"""The errors of imaging; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class ImagingStudyNotFound(NotFound):
    code, title = "IMAGING_STUDY_NOT_FOUND", "Imaging study not found"


class ImagingStudyCodeExists(Conflict):
    code, title = "IMAGING_STUDY_CODE_EXISTS", "An imaging study with this code exists"


class ImagingOrderNotFound(NotFound):
    code, title = "IMAGING_ORDER_NOT_FOUND", "Imaging order not found"


class ImagingOrderNotReportable(Conflict):
    code, title = "IMAGING_ORDER_NOT_REPORTABLE", "The imaging order cannot be reported"
