"""The errors of imaging that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class ImagingStudyNotFound(NotFound):
    code, title = "IMAGING_STUDY_NOT_FOUND", "Imaging study not found"
