"""Pharmacy, lab and radiology in the browser: the pharmacist dispenses a reservation (after a confirmation) and
restocks, the lab technician enters a result, the radiologist reports a study; each checked through the API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from playwright.async_api import expect

from tests.webapp.conftest import App, LiveServer


def new_patient(server: LiveServer, family: str) -> dict[str, Any]:
    body = {"first_name": "Meera", "last_name": family, "date_of_birth": "1979-03-14", "gender": "female"}
    response = server.api("receptionist").post("/patients", json=body)
    response.raise_for_status()
    return response.json()


def catalogue_item(client: httpx.Client, path: str, code: str) -> dict[str, Any]:
    return next(item for item in client.get(path, params={"limit": 200}).json()["items"] if item["code"] == code)


def confirmed_order(server: LiveServer, patient_id: str, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A doctor's order, once the saga has confirmed it."""
    doctor = server.api("doctor")
    practitioner_id = doctor.get("/auth/me").json()["practitioner_id"]
    body = {"patient_id": patient_id, "practitioner_id": practitioner_id, "type": kind, "items": items}
    placed = doctor.post("/orders", json=body)
    assert placed.status_code == 202, placed.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        order = doctor.get(f"/orders/{placed.json()['id']}").json()
        if order["status"] != "pending":
            assert order["status"] == "confirmed", order
            return order
        time.sleep(0.2)
    raise AssertionError(f"order {placed.json()['id']} was not confirmed in time")


def lab_order(server: LiveServer, patient_id: str, code: str = "CBC") -> dict[str, Any]:
    doctor = server.api("doctor")
    test = catalogue_item(doctor, "/lab-tests", code)
    order = confirmed_order(server, patient_id, "lab", [{"lab_test_id": test["id"]}])
    return doctor.get("/lab-orders", params={"order_id": order["id"]}).json()["items"][0]


def imaging_order(server: LiveServer, patient_id: str, code: str = "XR-CHEST-PA") -> dict[str, Any]:
    doctor = server.api("doctor")
    study = catalogue_item(doctor, "/imaging-studies", code)
    order = confirmed_order(server, patient_id, "imaging", [{"imaging_study_id": study["id"]}])
    return doctor.get("/imaging-orders", params={"order_id": order["id"]}).json()["items"][0]


async def test_a_pharmacist_dispenses_a_prescription_after_confirming(app: App) -> None:
    family = f"Iyer{uuid.uuid4().hex[:6]}"
    patient = new_patient(app.server, family)
    pharmacist = app.server.api("pharmacist")
    paracetamol = catalogue_item(pharmacist, "/medications", "PARA-650")
    order = confirmed_order(
        app.server,
        patient["id"],
        "prescription",
        [{"medication_id": paracetamol["id"], "quantity": 12, "dosage": "1 tablet every 6 hours"}],
    )

    await app.sign_in("pharmacist")
    page = app.page
    await expect(page.get_by_role("heading", name="Prescriptions to dispense")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=family)
    await expect(row).to_contain_text("Paracetamol 650 mg")
    await expect(row).to_contain_text("12 tablet")
    await expect(row).to_contain_text("1 tablet every 6 hours")
    await app.screenshot("pharmacy-to-dispense")

    # Going back from the confirmation changes nothing.
    await row.get_by_role("button", name="Dispense").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(f"Dispense 12 tablet of Paracetamol 650 mg to {family}, Meera?")
    await dialog.get_by_role("button", name="Go back").click()
    reservation = pharmacist.get("/pharmacy/reservations", params={"order_id": order["id"]}).json()["items"][0]
    assert reservation["status"] == "reserved"

    await row.get_by_role("button", name="Dispense").click()
    await page.get_by_role("dialog").get_by_role("button", name="Dispense").click()
    await expect(page.get_by_text(f"Dispensed 12 × Paracetamol 650 mg for {family}, Meera.")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=family)).to_have_count(0)

    reservation = pharmacist.get(f"/pharmacy/reservations/{reservation['id']}").json()
    assert reservation["status"] == "dispensed"
    after = pharmacist.get(f"/medications/{paracetamol['id']}").json()
    assert after["stock_quantity"] <= paracetamol["stock_quantity"] - 12

    await page.get_by_label("Status").select_option("dispensed")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("row").filter(has_text=family)).to_contain_text("dispensed")


async def test_a_pharmacist_restocks_a_medication(app: App) -> None:
    pharmacist = app.server.api("pharmacist")
    atorvastatin = catalogue_item(pharmacist, "/medications", "ATOR-10")
    await app.sign_in("pharmacist")
    await app.go("pharmacy/stock")
    page = app.page
    await page.get_by_label("Medication").select_option(label="Atorvastatin 10 mg (ATOR-10)")
    await page.get_by_label("Quantity received").fill("40")
    await page.get_by_role("button", name="Restock").click()
    await expect(page.get_by_text("Atorvastatin 10 mg:")).to_be_visible()
    after = pharmacist.get(f"/medications/{atorvastatin['id']}").json()
    assert after["stock_quantity"] >= atorvastatin["stock_quantity"] + 40
    await app.screenshot("pharmacy-stock")

    # A quantity below one is refused beside the field before anything is sent.
    await page.get_by_label("Medication").select_option(label="Atorvastatin 10 mg (ATOR-10)")
    await page.get_by_label("Quantity received").fill("0")
    await page.get_by_role("button", name="Restock").click()
    await expect(page.get_by_label("Quantity received")).to_have_attribute("aria-invalid", "true")


async def test_a_lab_technician_enters_a_result(app: App) -> None:
    family = f"Bose{uuid.uuid4().hex[:6]}"
    patient = new_patient(app.server, family)
    ordered = lab_order(app.server, patient["id"])

    await app.sign_in("lab_technician")
    page = app.page
    await expect(page.get_by_role("heading", name="Lab tests to result")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=family)
    await expect(row).to_contain_text("Complete blood count")
    await row.get_by_role("link", name="Enter result").click()

    await expect(page.get_by_role("heading", name="Lab result")).to_be_visible()
    await page.get_by_label("Measure 1").fill("Haemoglobin")
    await page.get_by_label("Result 1").fill("13.8")
    await page.get_by_label("Unit 1").fill("g/dL")
    await page.get_by_label("Reference range 1").fill("13.0-17.0")
    await page.get_by_role("button", name="Add another value").click()
    await expect(page.get_by_label("Measure 2")).to_be_focused()
    await page.keyboard.type("White cells")
    await page.get_by_label("Result 2").fill("6.1")
    await app.screenshot("pharmacy-lab-result")
    await page.get_by_role("button", name="Save the result").click()
    await page.get_by_role("dialog").get_by_role("button", name="Save the result").click()
    await expect(page.get_by_text(f"Complete blood count resulted for {family}, Meera.")).to_be_visible()

    resulted = app.server.api("lab_technician").get(f"/lab-orders/{ordered['id']}").json()
    assert resulted["status"] == "resulted"
    assert resulted["results"] == [
        {"name": "Haemoglobin", "value": "13.8", "unit": "g/dL", "reference_range": "13.0-17.0"},
        {"name": "White cells", "value": "6.1", "unit": None, "reference_range": None},
    ]


async def test_a_radiologist_reports_a_study(app: App) -> None:
    family = f"Das{uuid.uuid4().hex[:6]}"
    patient = new_patient(app.server, family)
    ordered = imaging_order(app.server, patient["id"])

    await app.sign_in("radiologist")
    page = app.page
    await expect(page.get_by_role("heading", name="Imaging studies to report")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=family)
    await expect(row).to_contain_text("Chest X-ray, PA view")
    await row.get_by_role("link", name="Report").click()

    await page.get_by_label("Findings").fill("Clear lung fields. Normal cardiac silhouette.")
    await page.get_by_label("Impression").fill("No acute cardiopulmonary abnormality.")
    await page.set_viewport_size({"width": 820, "height": 1180})
    await app.screenshot("pharmacy-imaging-report-tablet")
    await page.get_by_role("button", name="Sign the report").click()
    await page.get_by_role("dialog").get_by_role("button", name="Sign the report").click()
    await expect(page.get_by_text(f"Chest X-ray, PA view reported for {family}, Meera.")).to_be_visible()

    reported = app.server.api("radiologist").get(f"/imaging-orders/{ordered['id']}").json()
    assert reported["status"] == "reported"
    assert reported["report"]["impression"] == "No acute cardiopulmonary abnormality."
