"""Front desk in the browser: register a patient, see a practitioner's free slots, book, reschedule, check in,
cancel (with a confirmation), and the API's problem details shown beside the form."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from playwright.async_api import expect

from tests.webapp.conftest import App


async def _register(app: App, family: str) -> None:
    await app.go("patients/new")
    page = app.page
    await page.get_by_label("Given name").fill("Asha")
    await page.get_by_label("Family name").fill(family)
    await page.get_by_label("Date of birth").fill("1984-05-06")
    await page.get_by_label("Gender").select_option("female")
    await page.get_by_label("Phone").fill("+919812345678")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("heading", name=f"{family}, Asha")).to_be_visible()


async def _book_first_slot(app: App) -> str:
    page = app.page
    await page.get_by_role("link", name="Book an appointment").click()
    await page.get_by_label("Practitioner").select_option(index=1)
    await page.get_by_role("button", name="Show free slots").click()
    slot = page.get_by_role("group", name="Free slots").get_by_role("button").first
    await expect(slot).to_be_visible()
    await slot.click()
    await page.get_by_label("Reason for the visit").fill("Follow-up")
    await page.get_by_role("button", name="Book", exact=True).click()
    await expect(page.get_by_text(re.compile(r"Booked .* for"))).to_be_visible()
    return page.url


async def test_a_receptionist_registers_books_reschedules_checks_in_and_cancels(app: App) -> None:
    family = f"Rao{uuid.uuid4().hex[:6]}"
    await app.sign_in("receptionist")
    await expect(app.page.get_by_role("heading", name="Appointments")).to_be_visible()
    await app.screenshot("front-desk-day")

    await _register(app, family)
    await _book_first_slot(app)
    page = app.page
    appointments = page.get_by_role("table")
    await expect(appointments.get_by_text("scheduled")).to_have_count(1)
    await app.screenshot("front-desk-patient")

    await page.get_by_role("link", name="Reschedule").click()
    await page.get_by_role("button", name="Show free slots").click()
    await page.get_by_role("group", name="Free slots").get_by_role("button").nth(2).click()
    await page.get_by_role("button", name="Move the appointment").click()
    await expect(page.get_by_text(re.compile("Moved to"))).to_be_visible()

    await page.get_by_role("button", name="Check in").click()
    await expect(page.get_by_role("table").get_by_text("checked in")).to_be_visible()

    # Cancelling asks first; going back changes nothing.
    await page.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Cancel appointment")
    await dialog.get_by_role("button", name="Go back").click()
    await expect(page.get_by_role("table").get_by_text("checked in")).to_be_visible()
    await page.get_by_role("button", name="Cancel").click()
    await page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    await expect(page.get_by_role("table").get_by_text("cancelled")).to_be_visible()

    api = app.server.api("receptionist")
    found = api.get("/patients", params={"q": family}).json()["items"]
    assert len(found) == 1
    visits = api.get("/appointments", params={"patient_id": found[0]["id"]}).json()["items"]
    assert [v["status"] for v in visits] == ["cancelled"]


async def test_the_api_problem_is_shown_and_nothing_is_registered(app: App) -> None:
    family = f"Bad{uuid.uuid4().hex[:6]}"
    await app.sign_in("receptionist")
    await app.go("patients/new")
    page = app.page
    await page.get_by_label("Given name").fill("Ravi")
    await page.get_by_label("Family name").fill(family)
    await page.get_by_label("Date of birth").fill("1990-01-01")
    await page.get_by_label("Gender").select_option("male")
    await page.get_by_label("Insurance BIN").fill("12")  # a BIN has six digits
    await page.get_by_role("button", name="Register").click()

    alert = page.get_by_role("alert").filter(has_text="not valid")
    await expect(alert).to_be_visible()
    await expect(page.get_by_label("Insurance BIN")).to_have_attribute("aria-invalid", "true")
    await app.screenshot("front-desk-problem")
    assert app.server.api("receptionist").get("/patients", params={"q": family}).json()["items"] == []


async def test_the_app_is_usable_from_the_keyboard(app: App) -> None:
    await app.open()
    page = app.page
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type(app.server.email("receptionist"))
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(app.server.passwords["receptionist"])
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    patients = page.get_by_role("navigation").get_by_role("link", name="Patients")
    await expect(page.get_by_role("heading", name="Appointments")).to_be_focused()
    # The navigation comes before the page's content: back from the heading, however long the day's list is.
    for _ in range(12):
        await page.keyboard.press("Shift+Tab")
        if await patients.evaluate("link => link === document.activeElement"):
            break
    await expect(patients).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_focused()


async def test_a_wrong_password_is_explained(app: App) -> None:
    await app.open()
    page = app.page
    await page.get_by_label("Email").fill(app.server.email("receptionist"))
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_be_hidden()


async def test_times_and_days_are_the_clinics_whatever_the_computers_time_zone(app: App) -> None:
    # The clinic keeps UTC, the browser Honolulu's time (UTC-10): a clinic day's first slot is the evening before
    # on the computer's clock, and the computer's calendar day is not the clinic's.
    desk = app.server.api("receptionist")
    doctor_id = app.server.api("doctor").get("/auth/me").json()["practitioner_id"]
    family = f"Kahale{uuid.uuid4().hex[:6]}"
    body = {"first_name": "Leilani", "last_name": family, "date_of_birth": "1990-01-02", "gender": "female"}
    patient = desk.post("/patients", json=body).json()
    day = date.today() + timedelta(days=1)
    for _ in range(10):  # the next day the demo doctor works with a free slot
        slots = desk.get(f"/practitioners/{doctor_id}/availability", params={"date": day.isoformat()}).json()["slots"]
        if slots:
            break
        day += timedelta(days=1)
    start = slots[0]["start"]  # e.g. 2026-12-08T09:00:00Z
    body = {"patient_id": patient["id"], "practitioner_id": doctor_id, "start": start, "reason": "Check-up"}
    assert desk.post("/appointments", json=body).status_code == 201

    await app.sign_in("receptionist")
    await app.go(f"appointments?date={day.isoformat()}")
    row = app.page.get_by_role("row", name=re.compile(family))
    await expect(row).to_contain_text(start[11:16])
