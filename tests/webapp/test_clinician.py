"""The clinic in the browser: a doctor opens a checked-in visit from the day's list, records vital signs, a diagnosis
(a wrong ICD-10-CM code shows the API's problem and records nothing), a procedure, orders a lab test and a
prescription (followed until the saga confirms them), and completes the visit after confirming; a nurse records vital
signs and is offered neither diagnoses nor orders."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from playwright.async_api import expect

from tests.webapp.conftest import App, LiveServer


@dataclass(frozen=True)
class Visit:
    family: str
    patient_id: str
    appointment_id: str
    practitioner_id: str
    day: str


def _checked_in_visit(server: LiveServer) -> Visit:
    """A new patient checked in for the demo doctor's first free slot, today or on one of the next weekdays."""
    desk = server.api("receptionist")
    practitioner_id = server.api("doctor").get("/auth/me").json()["practitioner_id"]
    family = f"Iyer{uuid.uuid4().hex[:6]}"
    patient = {"first_name": "Meena", "last_name": family, "date_of_birth": "1971-03-14", "gender": "female"}
    created = desk.post("/patients", json=patient)
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    day = date.today()
    for _ in range(10):
        slots = desk.get(
            f"/practitioners/{practitioner_id}/availability", params={"date": day.isoformat(), "duration_minutes": 30}
        ).json()["slots"]
        if slots:
            break
        day += timedelta(days=1)
    else:
        raise AssertionError("the demo doctor has no free slot in the next ten days")
    booked = desk.post(
        "/appointments",
        json={
            "patient_id": patient_id,
            "practitioner_id": practitioner_id,
            "start": slots[0]["start"],
            "reason": "Headaches",
        },
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    assert desk.post(f"/appointments/{appointment_id}/check-in").status_code == 200
    return Visit(family, patient_id, appointment_id, practitioner_id, slots[0]["start"][:10])


async def _open_from_the_days_list(app: App, visit: Visit, *, choose_practitioner: bool = False, shot: str) -> None:
    page = app.page
    await expect(page.get_by_role("heading", name="Today's list")).to_be_visible()
    if choose_practitioner:
        await page.get_by_label("Practitioner").select_option(visit.practitioner_id)
    await page.get_by_label("Day").fill(visit.day)
    await page.get_by_role("button", name="Show").click()
    opening = page.get_by_role("link", name=re.compile(f"Open the visit of {visit.family}"))
    await expect(opening).to_be_visible()
    await app.screenshot(shot)
    await opening.click()
    await expect(page.get_by_role("heading", name="Visit", exact=True)).to_be_visible()
    await expect(page.get_by_text(f"{visit.family}, Meena")).to_be_visible()


async def _record_vital_signs(app: App) -> None:
    page = app.page
    await page.get_by_label("Heart rate (beats/min)").fill("72")
    await page.get_by_label("Systolic BP (mmHg)").fill("132")
    await page.get_by_label("Diastolic BP (mmHg)").fill("86")
    await page.get_by_label("Temperature (°C)").fill("36.8")
    await page.get_by_label("SpO₂ (%)").fill("98")
    await page.get_by_role("button", name="Record vital signs").click()
    recorded = page.get_by_role("table").filter(has_text="Vital signs")
    await expect(recorded).to_contain_text("HR 72/min · BP 132/86 mmHg · T 36.8 °C · SpO₂ 98 %")


async def test_a_doctor_records_orders_and_completes_a_visit(app: App) -> None:
    visit = _checked_in_visit(app.server)
    await app.sign_in("doctor")
    await _open_from_the_days_list(app, visit, shot="clinician-today")
    page = app.page
    await expect(page.get_by_text("checked in", exact=True)).to_be_visible()

    await _record_vital_signs(app)

    # A code outside the ICD-10-CM code set: the API's problem is shown and nothing is recorded.
    code = page.get_by_label("ICD-10-CM code")
    await code.fill("ZZZ99")
    await page.get_by_role("button", name="Record diagnosis").click()
    await expect(page.get_by_role("alert").filter(has_text="UNKNOWN_DIAGNOSIS_CODE")).to_be_visible()
    await code.fill("I10")
    await page.get_by_role("button", name="Record diagnosis").click()
    await expect(page.get_by_role("table").filter(has_text="Diagnosis")).to_contain_text("I10")
    await expect(page.get_by_role("definition").filter(has_text="I10")).to_be_visible()  # the chart's active diagnoses

    await page.get_by_label("CPT/HCPCS code").fill("93000")
    await page.get_by_role("button", name="Record procedure").click()
    await expect(page.get_by_role("table").filter(has_text="Procedure")).to_contain_text("93000 × 1")

    status = page.locator(".order-status")
    await page.get_by_label("Lab test").select_option(index=1)
    await page.get_by_role("button", name="Order lab test").click()
    await expect(status).to_contain_text(re.compile(r"ORD-\S+: confirmed"))
    lab_order = re.search(r"ORD-[\w-]+", await status.inner_text())
    assert lab_order
    await page.get_by_label("Medication").select_option(index=1)
    await page.get_by_label("Quantity to dispense").fill("2")
    await page.get_by_label("Dosage").fill("1 tablet twice a day")
    await page.get_by_role("button", name="Prescribe").click()
    await expect(status).not_to_contain_text(lab_order[0])
    await expect(status).to_contain_text(re.compile(r"ORD-\S+: confirmed"))
    await expect(page.get_by_role("table").filter(has_text="Prescription")).to_contain_text("1 tablet twice a day")
    prescribed = re.search(r"ORD-[\w-]+", await status.inner_text())
    assert prescribed
    await page.get_by_label("Imaging study").select_option(index=1)
    await page.get_by_role("button", name="Order imaging study").click()
    await expect(status).not_to_contain_text(prescribed[0])
    await expect(status).to_contain_text(re.compile(r"ORD-\S+: confirmed"))
    await expect(page.locator("#toasts .toast")).to_have_count(0)  # a clear picture
    await app.screenshot("clinician-visit")

    # More than the pharmacy holds: the saga fails the order, and the screen says why.
    imaged = re.search(r"ORD-[\w-]+", await status.inner_text())
    assert imaged
    await page.get_by_label("Medication").select_option(index=1)
    await page.get_by_label("Quantity to dispense").fill("10000")
    await page.get_by_role("button", name="Prescribe").click()
    await expect(status).not_to_contain_text(imaged[0])
    await expect(status).to_contain_text("failed")
    await expect(status).to_contain_text("INSUFFICIENT_STOCK")
    await app.screenshot("clinician-order-failed")

    # Completing asks first; going back leaves the visit open.
    await page.get_by_role("button", name="Complete visit").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Complete visit APT-")
    await dialog.get_by_role("button", name="Go back").click()
    await expect(page.get_by_text("checked in", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Complete visit").click()
    await page.get_by_role("dialog").get_by_role("button", name="Complete visit").click()
    await expect(page.get_by_text("completed", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Complete visit")).to_have_count(0)

    doctor = app.server.api("doctor")
    records = doctor.get(
        "/medical-records", params={"patient_id": visit.patient_id, "appointment_id": visit.appointment_id}
    ).json()["items"]
    assert sorted((r["type"], r["code"]) for r in records) == [
        ("diagnosis", "I10"),
        ("procedure", "93000"),
        ("vital_signs", None),
    ]
    vitals = next(r for r in records if r["type"] == "vital_signs")
    assert (vitals["heart_rate"], vitals["systolic_bp"], vitals["diastolic_bp"], vitals["temperature_c"]) == (
        72,
        132,
        86,
        36.8,
    )
    orders = doctor.get("/orders", params={"patient_id": visit.patient_id}).json()["items"]
    assert sorted((o["type"], o["status"], o["failure_reason"]) for o in orders) == [
        ("imaging", "confirmed", None),
        ("lab", "confirmed", None),
        ("prescription", "confirmed", None),
        ("prescription", "failed", "INSUFFICIENT_STOCK"),
    ]
    assert all(o["practitioner_id"] == visit.practitioner_id for o in orders)
    prescription = next(o for o in orders if o["type"] == "prescription" and o["status"] == "confirmed")
    assert (prescription["items"][0]["quantity"], prescription["items"][0]["dosage"]) == (2, "1 tablet twice a day")
    assert doctor.get(f"/appointments/{visit.appointment_id}").json()["status"] == "completed"


async def test_a_nurse_records_vital_signs_but_is_not_offered_diagnoses_or_orders(app: App) -> None:
    visit = _checked_in_visit(app.server)
    await app.sign_in("nurse")
    # A nurse has no practitioner of their own: the list asks whose day to show.
    await expect(app.page.get_by_text("Choose a practitioner to see their appointments.")).to_be_visible()
    await _open_from_the_days_list(app, visit, choose_practitioner=True, shot="clinician-today-nurse")
    page = app.page

    await _record_vital_signs(app)
    await expect(page.get_by_text("Diagnoses, procedures and orders are recorded by a doctor.")).to_be_visible()
    for absent in ("ICD-10-CM code", "CPT/HCPCS code", "Medication", "Lab test", "Imaging study"):
        await expect(page.get_by_label(absent)).to_have_count(0)
    for absent in ("Record diagnosis", "Prescribe", "Complete visit"):
        await expect(page.get_by_role("button", name=absent)).to_have_count(0)
    await expect(page.get_by_role("button", name="Record allergy")).to_be_visible()
    await expect(page.get_by_role("button", name="Save note")).to_be_visible()

    await page.get_by_label("Substance").fill("Penicillin")
    await page.get_by_label("Severity").select_option("severe")
    await page.get_by_label("Reaction").fill("Hives")
    await page.get_by_role("button", name="Record allergy").click()
    await expect(page.get_by_role("definition").filter(has_text="Penicillin")).to_contain_text("severe, Hives")

    await page.set_viewport_size({"width": 820, "height": 1180})
    await expect(page.locator("#toasts .toast")).to_have_count(0)  # a clear picture
    await app.screenshot("clinician-visit-nurse-tablet")

    records = (
        app.server.api("nurse")
        .get("/medical-records", params={"patient_id": visit.patient_id, "appointment_id": visit.appointment_id})
        .json()["items"]
    )
    assert sorted((r["type"], r["heart_rate"], r["spo2"], r["substance"], r["severity"]) for r in records) == [
        ("allergy", None, None, "Penicillin", "severe"),
        ("vital_signs", 72, 98, None, None),
    ]


async def test_a_cancelled_appointment_offers_nothing_to_record(app: App) -> None:
    visit = _checked_in_visit(app.server)
    cancelled = app.server.api("receptionist").post(f"/appointments/{visit.appointment_id}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text
    await app.sign_in("doctor")
    await app.go(f"visits/{visit.appointment_id}")
    page = app.page
    await expect(
        page.get_by_text("This appointment is cancelled: nothing can be recorded or ordered in it.")
    ).to_be_visible()
    await expect(page.get_by_text("Nothing recorded in this visit yet.")).to_be_visible()
    for absent in ("Record vital signs", "Record diagnosis", "Prescribe", "Complete visit", "Check in"):
        await expect(page.get_by_role("button", name=absent)).to_have_count(0)
