"""Pure rules of facilities: the kinds of personnel, the shape of a code and which timezones are known."""

from __future__ import annotations

import functools
import re
import zoneinfo
from enum import StrEnum


class PersonnelKind(StrEnum):
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    LAB_TECHNICIAN = "lab_technician"
    RADIOLOGIST = "radiologist"
    RECEPTIONIST = "receptionist"
    BILLING_CLERK = "billing_clerk"
    ADMINISTRATOR = "administrator"
    OTHER = "other"


# A facility's or department's code: upper-case letters, digits, `-` and `_`, starting with a letter or digit.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
# The code of the facility the first start creates from the CAREMESH_CLINIC_* settings (editable afterwards).
FIRST_FACILITY_CODE = "MAIN"


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_iana_timezone(name: str) -> bool:
    """A key of the IANA time zone database (`Asia/Kolkata`, `America/Chicago`, `UTC`), spelt as it spells it."""
    return name in _iana_names()
