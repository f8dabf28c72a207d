"""The errors of facilities; those other contexts raise too are exported by its contract."""

from __future__ import annotations

from caremesh.platform.errors import Conflict, NotFound


class FacilityNotFound(NotFound):
    code, title = "FACILITY_NOT_FOUND", "Facility not found"


class DepartmentNotFound(NotFound):
    code, title = "DEPARTMENT_NOT_FOUND", "Department not found"


class PersonnelNotFound(NotFound):
    code, title = "PERSONNEL_NOT_FOUND", "Personnel member not found"


class UserNotFound(NotFound):
    code, title = "USER_NOT_FOUND", "User not found"


class FacilityCodeTaken(Conflict):
    code, title = "FACILITY_CODE_TAKEN", "Another facility has this code"


class DepartmentCodeTaken(Conflict):
    code, title = "DEPARTMENT_CODE_TAKEN", "Another department of the facility has this code"


class PersonnelUserTaken(Conflict):
    code, title = "PERSONNEL_USER_TAKEN", "The user account belongs to another personnel member"
