"""Claims in the browser: a claims officer claims an insured invoice, records the diagnosis, submits and processes
the claim (each behind a confirmation), follows it through the worklist, reads its 837P and posts the payer's
remittance, which pays the claim."""

from __future__ import annotations

import re
import uuid
from datetime import date

from playwright.async_api import expect

from tests.webapp.conftest import App


def _insured_invoice(app: App) -> tuple[dict, dict]:
    """A patient of the demo's CarePlus Gold scheme (consultations 80 %) and a manual consultation invoice."""
    member = f"MBR{uuid.uuid4().hex[:8].upper()}"
    insurance = {"bin": "610014", "pcn": "CAREPCN", "member_id": member}
    person = {"first_name": "Kavya", "last_name": f"Menon{uuid.uuid4().hex[:6]}", "date_of_birth": "1981-07-09"}
    patient = app.server.api("receptionist").post(
        "/patients", json={**person, "gender": "female", "insurance": insurance}
    )
    patient.raise_for_status()
    officer = app.server.api("claims_officer")
    gold = next(s for s in officer.get("/schemes").json()["items"] if s["code"] == "GOLD")
    coverage = {
        "patient_id": patient.json()["id"],
        "scheme_id": gold["id"],
        "member_id": member,
        "valid_from": date.today().replace(month=1, day=1).isoformat(),
    }
    officer.post("/coverages", json=coverage).raise_for_status()
    line = {"tariff_code": "CONSULT-GENERAL", "quantity": 1}
    invoice = app.server.api("billing_clerk").post(
        "/invoices", json={"patient_id": patient.json()["id"], "lines": [line]}
    )
    invoice.raise_for_status()
    assert invoice.json()["insurance_amount"] == "179.20"
    return patient.json(), invoice.json()


async def _confirm(app: App, text: str, button: str) -> None:
    dialog = app.page.get_by_role("dialog")
    await expect(dialog).to_contain_text(text)
    await dialog.get_by_role("button", name=button).click()


async def test_a_claim_goes_from_draft_to_paid_through_the_worklist(app: App) -> None:
    _, invoice = _insured_invoice(app)
    officer = app.server.api("claims_officer")
    await app.sign_in("claims_officer")
    page = app.page
    await expect(page.get_by_role("heading", name="Claims worklist", level=1)).to_be_visible()

    # From the invoice: a draft claim for the insurer's share, and its diagnosis.
    await app.go(f"invoices/{invoice['id']}")
    await page.get_by_role("button", name="Claim from the insurer").click()
    await expect(page.get_by_text(re.compile(r"Draft claim CLM-.* created"))).to_be_visible()
    heading = page.get_by_role("heading", name=re.compile(r"CLM-\d{4}-\d+"))
    await expect(heading).to_contain_text("draft")
    number = re.search(r"CLM-\d{4}-\d+", await heading.inner_text()).group(0)
    claim = next(c for c in officer.get("/claims", params={"invoice_id": invoice["id"]}).json()["items"])
    assert claim["number"] == number
    assert claim["claimed_amount"] == "179.20"
    await page.get_by_label("Diagnosis codes (ICD-10-CM)").fill("i10")
    await page.get_by_role("button", name="Save diagnoses").click()
    await expect(page.get_by_text(f"Diagnoses of {number} saved.")).to_be_visible()
    await expect(page.get_by_label("Diagnosis codes (ICD-10-CM)")).to_have_value("I10")

    # Submitting asks first: going back leaves the draft.
    await page.get_by_role("button", name="Submit", exact=True).click()
    await page.get_by_role("dialog").get_by_role("button", name="Go back").click()
    assert officer.get(f"/claims/{claim['id']}").json()["status"] == "draft"
    await page.get_by_role("button", name="Submit", exact=True).click()
    await _confirm(app, f"Submit claim {number}", "Submit")
    await expect(heading).to_contain_text("submitted")
    await app.screenshot("claims-detail")

    # The worklist's submitted tab has it; processing it there adjudicates it (80 % of a consultation: approved).
    await page.get_by_role("link", name="Back to the worklist").click()
    await expect(page.get_by_role("link", name="Submitted")).to_have_attribute("aria-current", "page")
    row = page.get_by_role("row", name=re.compile(number))
    await expect(row).to_contain_text("submitted")
    await app.screenshot("claims-worklist")
    await row.get_by_role("button", name="Process").click()
    await _confirm(app, f"Adjudicate claim {number}", "Process")
    await expect(page.get_by_text(re.compile(rf"{number}: approved"))).to_be_visible()
    await expect(row).to_have_count(0)
    await page.get_by_role("link", name="Approved", exact=True).click()
    await expect(page.get_by_role("row", name=re.compile(number))).to_contain_text("179.20")
    history = officer.get(f"/claims/{claim['id']}/history").json()["items"]
    assert [entry["to_status"] for entry in history] == ["draft", "draft", "submitted", "approved"]

    # The 837P, as text and as a download.
    await page.get_by_role("link", name=number).click()
    await page.get_by_role("button", name="Show the 837P").click()
    interchange = page.get_by_label("837P interchange")
    await expect(interchange).to_contain_text("ST*837*")
    await expect(interchange).to_contain_text("HI*ABK:I10")
    await expect(page.get_by_role("link", name=f"Download {number}-837P.x12")).to_be_visible()

    # The invoice names its claim, and offers no second one.
    await page.get_by_role("link", name=invoice["number"]).click()
    await expect(page.get_by_role("link", name=number)).to_be_visible()
    await expect(page.get_by_role("button", name="Claim from the insurer")).to_have_count(0)
    await page.get_by_role("link", name=number).click()

    # The payer's remittance, prefilled from the claim, posted after confirming: the claim is paid.
    await page.get_by_role("link", name="Post the payer's remittance").click()
    await expect(page.get_by_label("Claim number (item 1)")).to_have_value(number)
    await expect(page.get_by_label("Paid amount (item 1)")).to_have_value("179.20")
    remittance = f"EFT-{uuid.uuid4().hex[:8].upper()}"
    await page.get_by_label("Remittance number").fill(remittance)
    await page.get_by_role("button", name="Add an item").click()
    await page.get_by_label("Claim number (item 2)").fill("CLM-1999-999999")
    await page.get_by_label("Paid amount (item 2)").fill("10.00")
    await page.get_by_role("button", name="Post remittance").click()
    await _confirm(app, f"Post remittance {remittance} from CAREPLUS: 2 item(s), 189.20", "Post remittance")
    await expect(page.get_by_role("heading", name=f"{remittance} · CAREPLUS")).to_be_visible()
    await expect(page.get_by_role("link", name=number)).to_be_visible()
    await expect(page.get_by_role("row", name=re.compile("CLM-1999-999999"))).to_be_visible()
    await app.screenshot("claims-remittance")
    assert officer.get(f"/claims/{claim['id']}").json()["status"] == "paid"

    await page.get_by_role("link", name="All remittances").click()
    await expect(page.get_by_role("link", name=remittance)).to_be_visible()


async def test_a_refused_step_shows_the_problem(app: App) -> None:
    """A draft without a diagnosis cannot be submitted: the API's DIAGNOSIS_REQUIRED is shown, the claim stays."""
    _, invoice = _insured_invoice(app)
    officer = app.server.api("claims_officer")
    claim = officer.post("/claims", json={"invoice_id": invoice["id"]}).json()
    await app.sign_in("claims_officer")
    await app.go(f"claims/{claim['id']}")
    page = app.page
    await page.get_by_role("button", name="Submit", exact=True).click()
    await _confirm(app, f"Submit claim {claim['number']}", "Submit")
    await expect(page.get_by_role("alert").filter(has_text="DIAGNOSIS_REQUIRED")).to_be_visible()
    assert officer.get(f"/claims/{claim['id']}").json()["status"] == "draft"


async def test_an_officer_rejects_a_submitted_claim_by_hand(app: App) -> None:
    _, invoice = _insured_invoice(app)
    officer = app.server.api("claims_officer")
    claim = officer.post("/claims", json={"invoice_id": invoice["id"], "diagnosis_codes": ["I10"]}).json()
    officer.post(f"/claims/{claim['id']}/submit").raise_for_status()
    await app.sign_in("claims_officer")
    await app.go(f"claims/{claim['id']}")
    page = app.page
    await page.get_by_label("Reason code (CARC)").fill("50")
    await page.get_by_label("Rejection reason").fill("Not medically necessary")
    await page.get_by_role("button", name="Reject", exact=True).click()
    await _confirm(app, f"Reject claim {claim['number']}", "Reject")
    await expect(page.get_by_role("heading", name=re.compile(claim["number"]))).to_contain_text("rejected")
    await expect(page.get_by_text("50: Not medically necessary")).to_be_visible()
    decided = officer.get(f"/claims/{claim['id']}").json()
    assert (decided["status"], decided["rejection_reason_code"]) == ("rejected", "50")


async def test_a_billing_clerk_reads_claims_and_remittances_without_acting(app: App) -> None:
    _, invoice = _insured_invoice(app)
    claim = app.server.api("claims_officer").post("/claims", json={"invoice_id": invoice["id"]}).json()
    await app.sign_in("billing_clerk")
    await app.go("claims?status=draft")
    page = app.page
    await expect(page.get_by_role("link", name=claim["number"])).to_be_visible()
    await expect(page.get_by_role("button", name="Submit", exact=True)).to_have_count(0)
    await app.go("remittances")
    await expect(page.get_by_role("heading", name="Remittances", level=1)).to_be_visible()
    await expect(page.get_by_role("link", name="Post a remittance")).to_have_count(0)
