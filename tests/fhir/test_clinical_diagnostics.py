"""ServiceRequest and DiagnosticReport: lab tests and imaging studies ordered, lab results and imaging reports; the
lab's and radiology's read permissions, patient scoping, audited reads."""

from __future__ import annotations

import base64
import uuid

import pytest

from caremesh.fhir.diagnostics import REQUEST_STATUS
from tests.builders import imaging as radiology
from tests.builders.lab import confirm, lab_orders, make_lab_test, place, placed, result
from tests.builders.patients import make_patient
from tests.fhir.fhir_client import FHIR, assert_outcome, audited, read, resources, search, search_all

LOINC = "http://loinc.org"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
RESULT = {
    "values": [
        {"name": "Haemoglobin", "value": "13.5", "unit": "g/dL", "reference_range": "12-16"},
        {"name": "Comment", "value": "Slightly haemolysed"},
    ]
}


def test_every_order_status_has_its_request_status():
    assert REQUEST_STATUS == {
        "scheduled": "active",
        "resulted": "completed",
        "reported": "completed",
        "cancelled": "revoked",
    }


async def ordered(env, patient, *items, kind="lab"):
    order = placed(patient["id"], *items) if kind == "lab" else radiology.placed(patient["id"], *items)
    await place(env, order)
    await confirm(env, order)
    return order


@pytest.fixture
async def worked_up(env):
    """A patient with two lab tests ordered (one resulted) and a chest X-ray reported; another patient's lab test."""
    patient, other = await make_patient(env), await make_patient(env)
    test = await make_lab_test(env, name="Haemoglobin", loinc="718-7")
    study = await radiology.make_study(env, name="Chest X-ray")
    lab_order = await ordered(env, patient, test, test)
    resulted, waiting = await lab_orders(env, order_id=lab_order["order_id"])
    assert (await result(env, resulted["id"], RESULT)).status_code == 200
    imaging_order = await ordered(env, patient, study, kind="imaging")
    [x_ray] = await radiology.imaging_orders(env, order_id=imaging_order["order_id"])
    assert (await radiology.report(env, x_ray["id"])).status_code == 200
    theirs = await ordered(env, other, test)
    [their_test] = await lab_orders(env, order_id=theirs["order_id"])
    return env, patient, {"resulted": resulted, "waiting": waiting, "x_ray": x_ray, "theirs": their_test}


async def test_a_lab_test_ordered_reads_as_a_loinc_coded_service_request(worked_up):
    env, patient, made = worked_up

    resource = await read(env, f"ServiceRequest/{made['waiting']['id']}")

    assert (resource["status"], resource["intent"]) == ("active", "order")
    assert resource["code"]["coding"][0] == {"system": LOINC, "code": "718-7", "display": "Haemoglobin"}
    assert resource["category"][0]["coding"][0]["code"] == "108252007"
    assert resource["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert resource["requisition"]["value"] == f"urn:uuid:{made['waiting']['order_id']}"
    assert resource["occurrenceDateTime"] == made["waiting"]["scheduled_date"]
    x_ray = await read(env, f"ServiceRequest/{made['x_ray']['id']}")
    assert (x_ray["status"], x_ray["code"]["text"]) == ("completed", "Chest X-ray")


async def test_service_requests_are_searched_by_patient_lab_then_imaging_over_pages(worked_up):
    env, patient, made = worked_up

    found, pages = await search_all(env, "ServiceRequest", patient=patient["id"], _count=2)

    assert [r["id"] for r in found] == [made["resulted"]["id"], made["waiting"]["id"], made["x_ray"]["id"]]
    assert pages == 2
    assert len(resources(await search(env, "ServiceRequest"))) == 4  # one page: the lab's run on into imaging


async def test_a_lab_result_is_a_diagnostic_report_with_its_values_contained(worked_up):
    env, patient, made = worked_up

    report = await read(env, f"DiagnosticReport/{made['resulted']['id']}")

    assert (report["status"], report["category"][0]["coding"][0]) == ("final", {"system": V2_0074, "code": "LAB"})
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{made['resulted']['id']}"}]
    assert report["code"]["coding"][0]["code"] == "718-7"
    assert report["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert [r["reference"] for r in report["result"]] == ["#result-1", "#result-2"]
    haemoglobin, comment = report["contained"]
    assert haemoglobin["valueQuantity"] == {"value": 13.5, "unit": "g/dL"}
    assert haemoglobin["referenceRange"] == [{"text": "12-16"}]
    assert comment["valueString"] == "Slightly haemolysed"


async def test_an_imaging_report_has_its_impression_and_findings(worked_up):
    env, _, made = worked_up

    report = await read(env, f"DiagnosticReport/{made['x_ray']['id']}")

    assert report["category"][0]["coding"][0]["code"] == "RAD"
    assert report["conclusion"] == radiology.REPORT["impression"]
    text = base64.b64decode(report["presentedForm"][0]["data"]).decode()
    assert radiology.REPORT["findings"] in text


async def test_reports_are_searched_by_patient_and_category_and_only_once_there(worked_up):
    env, patient, made = worked_up

    both = resources(await search(env, "DiagnosticReport", patient=patient["id"]))
    lab_only = resources(await search(env, "DiagnosticReport", patient=patient["id"], category="LAB"))
    rad_only = resources(await search(env, "DiagnosticReport", patient=patient["id"], category=f"{V2_0074}|RAD"))

    assert [r["id"] for r in both] == [made["resulted"]["id"], made["x_ray"]["id"]]
    assert [r["id"] for r in lab_only] == [made["resulted"]["id"]]
    assert [r["id"] for r in rad_only] == [made["x_ray"]["id"]]
    assert resources(await search(env, "DiagnosticReport", category="PAT")) == []
    waiting = await env.client.get(f"{FHIR}/DiagnosticReport/{made['waiting']['id']}", headers=env.admin)
    assert_outcome(waiting, 404, "not-found")  # not resulted yet: no report
    for path in (f"ServiceRequest/{uuid.uuid4()}", f"DiagnosticReport/{uuid.uuid4()}"):
        assert_outcome(await env.client.get(f"{FHIR}/{path}", headers=env.admin), 404, "not-found")


async def test_a_patient_sees_only_their_own_orders_and_reports(worked_up):
    env, patient, made = worked_up
    headers = await env.user(roles=["patient"], patient_id=patient["id"])

    assert (await read(env, f"DiagnosticReport/{made['resulted']['id']}", headers))["id"] == made["resulted"]["id"]
    theirs = await env.client.get(f"{FHIR}/ServiceRequest/{made['theirs']['id']}", headers=headers)
    assert_outcome(theirs, 404, "not-found")
    assert len(resources(await search(env, "ServiceRequest", headers))) == 3
    assert len(resources(await search(env, "DiagnosticReport", headers))) == 2


async def test_the_lab_reads_lab_orders_and_radiology_imaging_ones(worked_up):
    env, _, made = worked_up
    technician = await env.user(roles=["lab_technician"])
    radiologist = await env.user(roles=["radiologist"])
    clerk = await env.user(roles=["billing_clerk"])

    assert [r["id"] for r in resources(await search(env, "DiagnosticReport", technician))] == [made["resulted"]["id"]]
    assert [r["id"] for r in resources(await search(env, "DiagnosticReport", radiologist))] == [made["x_ray"]["id"]]
    assert_outcome(
        await env.client.get(f"{FHIR}/DiagnosticReport/{made['x_ray']['id']}", headers=technician), 404, "not-found"
    )
    rad = await env.client.get(f"{FHIR}/DiagnosticReport", params={"category": "RAD"}, headers=technician)
    assert_outcome(rad, 403, "forbidden", "FORBIDDEN")
    for path in ("ServiceRequest", "DiagnosticReport"):
        assert_outcome(await env.client.get(f"{FHIR}/{path}", headers=clerk), 403, "forbidden", "FORBIDDEN")


async def test_lab_and_imaging_reads_are_audited(worked_up):
    env, patient, made = worked_up

    await read(env, f"DiagnosticReport/{made['resulted']['id']}")
    await read(env, f"ServiceRequest/{made['x_ray']['id']}")
    listed_before = await audited(env, "lab_order.list_read", made["waiting"]["id"])
    await search(env, "ServiceRequest", patient=patient["id"])

    assert await audited(env, "lab_order.read", made["resulted"]["id"]) == 1
    assert await audited(env, "imaging_order.read", made["x_ray"]["id"]) == 1
    assert await audited(env, "lab_order.list_read", made["waiting"]["id"]) == listed_before + 1
