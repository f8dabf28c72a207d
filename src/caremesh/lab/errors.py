"""The errors of lab; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class LabTestNotFound(NotFound):
    code, title = "LAB_TEST_NOT_FOUND", "Lab test not found"


class LabTestCodeExists(Conflict):
    code, title = "LAB_TEST_CODE_EXISTS", "A lab test with this code exists"


class LabOrderNotFound(NotFound):
    code, title = "LAB_ORDER_NOT_FOUND", "Lab order not found"


class LabOrderNotResultable(Conflict):
    code, title = "LAB_ORDER_NOT_RESULTABLE", "The lab order cannot be resulted"
