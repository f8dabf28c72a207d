"""Pure imaging rules: modalities, imaging order states, why an imaging order may not be reported (the booking
window and free days are capacity's rules)."""

from __future__ import annotations

from enum import StrEnum

from caremesh.platform.capacity import rules
from caremesh.platform.capacity.rules import Refusal


class Modality(StrEnum):
    """DICOM's modality codes for the studies a radiology department books."""

    XR = "XR"  # projection radiography
    CT = "CT"
    MR = "MR"
    US = "US"  # ultrasound
    MG = "MG"  # mammography
    NM = "NM"  # nuclear medicine


class ImagingOrderStatus(StrEnum):
    SCHEDULED = rules.SCHEDULED
    REPORTED = "reported"
    CANCELLED = rules.CANCELLED


class SchedulingFailure(StrEnum):
    NO_IMAGING_CAPACITY = "NO_IMAGING_CAPACITY"
    IMAGING_STUDY_NOT_FOUND = "IMAGING_STUDY_NOT_FOUND"


NOT_REPORTABLE = {
    Refusal.ALREADY_DONE: "The imaging order is already reported.",
    Refusal.CANCELLED: "The imaging order is cancelled.",
    Refusal.NOT_CONFIRMED: "The order is not confirmed yet.",
}
