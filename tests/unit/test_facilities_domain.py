"""Pure rules of facilities: timezone names of the IANA database, the shape of codes, the kinds of personnel."""

from __future__ import annotations

import pytest

from caremesh.facilities.domain import CODE, FIRST_FACILITY_CODE, PersonnelKind, is_iana_timezone


@pytest.mark.parametrize("name", ["UTC", "Asia/Kolkata", "America/Argentina/Buenos_Aires", "Europe/London"])
def test_iana_names_are_known(name):
    assert is_iana_timezone(name)


@pytest.mark.parametrize(
    "name",
    ["", "asia/kolkata", "Asia/Kolkata ", "Mars/Olympus_Mons", "+05:30", "../etc/passwd", "/usr/share/zoneinfo/UTC"],
)
def test_anything_else_is_not(name):
    assert not is_iana_timezone(name)


@pytest.mark.parametrize("code", ["MAIN", "A", "NORTH-WING", "ICU_2", "X" * 20])
def test_codes_of_the_right_shape(code):
    assert CODE.match(code)


@pytest.mark.parametrize("code", ["", "main", "-MAIN", "NORTH WING", "X" * 21, "ÉCOLE"])
def test_codes_of_another_shape(code):
    assert not CODE.match(code)


def test_the_first_facility_code_is_a_valid_code():
    assert CODE.match(FIRST_FACILITY_CODE)


def test_the_personnel_kinds_are_those_api_md_lists():
    kinds = "nurse|pharmacist|lab_technician|radiologist|receptionist|billing_clerk|administrator|other"
    assert [kind.value for kind in PersonnelKind] == kinds.split("|")
