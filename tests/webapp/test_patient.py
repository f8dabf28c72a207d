"""The patient's own view in the browser: their appointments (cancel an upcoming one), their bills (pay by card: a
double click charges once), their results, and nobody else's."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from typing import Any

from playwright.async_api import expect

from tests.webapp.conftest import App, LiveServer
from tests.webapp.test_pharmacy_lab import imaging_order, lab_order, new_patient


def demo_patient_id(server: LiveServer) -> str:
    return server.api("patient").get("/auth/me").json()["patient_id"]


def bill(server: LiveServer, patient_id: str, description: str, price: str = "250.00") -> dict[str, Any]:
    body = {"patient_id": patient_id, "lines": [{"description": description, "quantity": 1, "unit_price": price}]}
    response = server.api("billing_clerk").post("/invoices", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def book_later(server: LiveServer, patient_id: str, reason: str) -> dict[str, Any]:
    """An appointment for the patient some weeks ahead, on a slot that neither the practitioner nor the patient has
    taken yet."""
    desk = server.api("receptionist")
    practitioners = desk.get("/practitioners", params={"limit": 10}).json()["items"]
    for _ in range(40):
        day = dt.date.today() + dt.timedelta(days=20 + secrets.randbelow(60))
        if day.weekday() >= 5:
            continue
        practitioner = secrets.choice(practitioners)
        availability = desk.get(
            f"/practitioners/{practitioner['id']}/availability",
            params={"date": day.isoformat(), "duration_minutes": 30},
        )
        slots = availability.json()["slots"]
        if not slots:
            continue
        body = {
            "patient_id": patient_id,
            "practitioner_id": practitioner["id"],
            "start": secrets.choice(slots)["start"],
            "reason": reason,
        }
        booked = desk.post("/appointments", json=body)
        if booked.status_code == 201:
            return booked.json()
    raise AssertionError("no free slot found")


def payment_keys(app: App) -> list[str | None]:
    """The Idempotency-Key of every payment the page sends, from now on."""
    keys: list[str | None] = []
    app.page.on(
        "request",
        lambda request: (
            keys.append(request.headers.get("idempotency-key"))
            if request.method == "POST" and request.url.endswith("/api/v1/payments")
            else None
        ),
    )
    return keys


async def test_a_patient_sees_their_appointments_and_cancels_an_upcoming_one(app: App) -> None:
    reason = f"Knee pain {uuid.uuid4().hex[:6]}"
    appointment = book_later(app.server, demo_patient_id(app.server), reason)

    await app.sign_in("patient")
    page = app.page
    await expect(page.get_by_role("heading", name="My appointments")).to_be_visible()
    await expect(page.get_by_text("Hello, ")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=reason)
    await expect(row).to_contain_text("Booked")
    await app.screenshot("patient-appointments")

    await row.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Cancel your appointment with Dr")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_text("Your appointment is cancelled.")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=reason)).to_contain_text("Cancelled")

    status = app.server.api("patient").get(f"/appointments/{appointment['id']}").json()["status"]
    assert status == "cancelled"


async def test_a_patient_pays_a_bill_and_a_double_click_charges_once(app: App) -> None:
    description = f"Wound dressing {uuid.uuid4().hex[:6]}"
    invoice = bill(app.server, demo_patient_id(app.server), description)
    assert float(invoice["balance_due"]) > 0

    await app.sign_in("patient")
    await app.go("my/bills")
    page = app.page
    row = page.get_by_role("row").filter(has_text=description)
    await expect(row).to_contain_text("To pay")
    await app.screenshot("patient-bills")
    await row.get_by_role("link", name=f"Pay {invoice['number']}").click()

    await expect(page.get_by_label(re.compile("Amount"))).to_have_value(invoice["balance_due"])
    await page.get_by_label("Card token").fill("tok_visa")
    keys = payment_keys(app)
    await page.set_viewport_size({"width": 820, "height": 1180})
    await app.screenshot("patient-pay-tablet")
    await page.get_by_role("button", name="Pay", exact=True).dblclick()
    await expect(page.get_by_text(re.compile("Thank you: .* paid"))).to_be_visible()
    await expect(page.get_by_role("heading", name=re.compile(invoice["number"]))).to_contain_text("Paid")

    payments = app.server.api("billing_clerk").get("/payments", params={"invoice_id": invoice["id"]}).json()["items"]
    assert [(p["status"], p["amount"], p["method"]) for p in payments] == [
        ("completed", invoice["balance_due"], "card")
    ]
    assert app.server.api("billing_clerk").get(f"/invoices/{invoice['id']}").json()["balance_due"] == "0.00"
    # Whatever reached the server carried one key.
    assert keys, "no payment was sent"
    assert len(set(keys)) == 1, keys
    assert keys[0], "a payment without an Idempotency-Key"


async def test_a_declined_card_is_explained_and_another_card_pays(app: App) -> None:
    description = f"Nebuliser {uuid.uuid4().hex[:6]}"
    invoice = bill(app.server, demo_patient_id(app.server), description, "120.00")

    await app.sign_in("patient")
    await app.go(f"my/bills/{invoice['id']}")
    page = app.page
    keys = payment_keys(app)
    await page.get_by_label("Card token").fill("tok_declined")
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.get_by_role("alert").filter(has_text="PAYMENT_DECLINED")).to_be_visible()

    # A new attempt gets a new Idempotency-Key: the second card is really tried.
    await page.get_by_label("Card token").fill("tok_mastercard")
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.get_by_text(re.compile("Thank you: .* paid"))).to_be_visible()

    payments = app.server.api("billing_clerk").get("/payments", params={"invoice_id": invoice["id"]}).json()["items"]
    assert sorted(p["status"] for p in payments) == ["completed", "failed"]
    assert len(keys) == 2, keys
    assert all(keys), keys
    assert keys[0] != keys[1], "the second card reused the declined attempt's key"


async def test_a_patient_sees_their_lab_results_and_scan_reports(app: App) -> None:
    patient_id = demo_patient_id(app.server)
    marker = f"{secrets.randbelow(900) + 100}"
    ordered = lab_order(app.server, patient_id, "HBA1C")
    resulted = app.server.api("lab_technician").post(
        f"/lab-orders/{ordered['id']}/result",
        json={"values": [{"name": f"HbA1c {marker}", "value": "5.4", "unit": "%", "reference_range": "4.0-5.6"}]},
    )
    assert resulted.status_code == 200, resulted.text
    scan = imaging_order(app.server, patient_id, "US-ABDOMEN")
    impression = f"Normal abdominal ultrasound ({marker})."
    reported = app.server.api("radiologist").post(
        f"/imaging-orders/{scan['id']}/report",
        json={"findings": "Liver, gallbladder and kidneys normal.", "impression": impression},
    )
    assert reported.status_code == 200, reported.text

    await app.sign_in("patient")
    await app.go("my/results")
    page = app.page
    result = page.get_by_role("article").filter(has_text=f"HbA1c {marker}")
    await expect(result.get_by_role("heading")).to_contain_text("Haemoglobin A1c")
    await expect(result).to_contain_text("5.4 %")
    await expect(result).to_contain_text("4.0-5.6 %")
    report = page.get_by_role("article").filter(has_text=impression)
    await expect(report.get_by_role("heading")).to_contain_text("Ultrasound, abdomen")
    await app.screenshot("patient-results")


async def test_a_patient_never_sees_another_patients_bill(app: App) -> None:
    other = new_patient(app.server, f"Other{uuid.uuid4().hex[:6]}")
    description = f"Physiotherapy {uuid.uuid4().hex[:6]}"
    theirs = bill(app.server, other["id"], description)
    mine = bill(app.server, demo_patient_id(app.server), f"Bandage {uuid.uuid4().hex[:6]}")

    await app.sign_in("patient")
    await app.go("my/bills")
    page = app.page
    await expect(page.get_by_role("link", name=mine["number"], exact=True)).to_be_visible()
    await expect(page.get_by_text(description)).to_have_count(0)
    await expect(page.get_by_text(theirs["number"])).to_have_count(0)

    await app.go(f"my/bills/{theirs['id']}")
    await expect(page.get_by_role("alert")).to_contain_text("We could not find this bill")
    await expect(page.get_by_text(description)).to_have_count(0)
    await expect(page.get_by_label("Card token")).to_have_count(0)
