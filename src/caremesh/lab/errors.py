"""The errors of lab that other contexts raise too (exported by its contract)."""

from __future__ import annotations

from caremesh.platform.errors import NotFound


class LabTestNotFound(NotFound):
    code, title = "LAB_TEST_NOT_FOUND", "Lab test not found"
