"""The pure rules of a search's query string and of search values (no database)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from caremesh.fhir.domain import DEFAULT_COUNT, MAX_COUNT, outcome, search_query
from caremesh.fhir.errors import BadSearchParameter
from caremesh.fhir.framework import NothingMatches, date_eq, reference, token

KNOWN = frozenset({"name", "birthdate"})


def test_the_query_splits_into_parameters_page_size_and_cursor():
    assert search_query([("name", "Rao"), ("_count", "5"), ("_cursor", "abc")], KNOWN) == ({"name": "Rao"}, 5, "abc")
    assert search_query([], KNOWN) == ({}, DEFAULT_COUNT, None)
    assert search_query([("_count", "1000"), ("_format", "application/fhir+json")], KNOWN) == ({}, MAX_COUNT, None)


@pytest.mark.parametrize(
    "items",
    [
        [("nickname", "x")],
        [("name:contains", "x")],
        [("name", "a"), ("name", "b")],
        [("name", "")],
        [("_count", "-1")],
        [("_count", "0")],
        [("_count", "ten")],
        [("_format", "xml")],
    ],
)
def test_what_is_refused(items):
    with pytest.raises(BadSearchParameter):
        search_query(items, KNOWN)


def test_search_values():
    some_id = uuid.uuid4()
    assert token("identifier", "http://x|123") == ("http://x", "123")
    assert token("identifier", "123") == (None, "123")
    assert token("identifier", "|123") == (None, "123")
    with pytest.raises(BadSearchParameter):
        token("identifier", "http://x|")
    assert reference("patient", f"Patient/{some_id}", "Patient") == some_id
    assert reference("patient", f"http://elsewhere/fhir/Patient/{some_id}", "Patient") == some_id
    assert reference("patient", str(some_id), "Patient") == some_id
    for other in (f"Practitioner/{some_id}", "Patient/not-a-uuid"):
        with pytest.raises(NothingMatches):
            reference("patient", other, "Patient")
    assert date_eq("date", "2030-01-07") == date_eq("date", "eq2030-01-07") == date(2030, 1, 7)
    for bad in ("2030-01", "ge2030-01-07", "2030-02-30"):
        with pytest.raises(BadSearchParameter):
            date_eq("date", bad)


def test_an_outcome_names_the_fhir_issue_and_our_code():
    issue = outcome(403, "FORBIDDEN", "Forbidden", "Your roles do not allow claims:read.").issue[0]

    assert (issue.severity, issue.code, issue.diagnostics) == (
        "error",
        "forbidden",
        "Your roles do not allow claims:read.",
    )
    assert (issue.details.coding[0].code, issue.details.coding[0].system) == (
        "FORBIDDEN",
        "https://caremesh.dev/problems",
    )
    assert outcome(500, "INTERNAL_ERROR", "x", "y").issue[0].code == "exception"
