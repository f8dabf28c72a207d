"""Billing in the browser: find a patient's invoices, take a payment (a double click charges once), a declined card's
problem shown, a refund and a credit note behind a confirmation (going back changes nothing), void, print."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.async_api import Locator, Page, Route, expect

from tests.webapp.conftest import App


def _patient(app: App, family: str) -> dict:
    created = app.server.api("receptionist").post(
        "/patients",
        json={"first_name": "Meera", "last_name": family, "date_of_birth": "1979-02-03", "gender": "female"},
    )
    created.raise_for_status()
    return created.json()


def _invoice(app: App, patient_id: str, unit_price: str = "1000.00") -> dict:
    """A manual invoice for a patient without insurance: the patient owes the whole total (12 % tax on top)."""
    line = {"description": "Wound dressing", "quantity": 1, "unit_price": unit_price}
    created = app.server.api("billing_clerk").post("/invoices", json={"patient_id": patient_id, "lines": [line]})
    created.raise_for_status()
    return created.json()


def _payments(api: httpx.Client, invoice_id: str) -> list[dict]:
    return api.get("/payments", params={"invoice_id": invoice_id}).json()["items"]


async def _lose_answer(page: Page, url: str, nth: int) -> list[str]:
    """Requests to `url` go through, but the answer to the `nth` one (counted from 1) is lost on its way back (the
    server did the work); the Idempotency-Key of each request is appended to the list returned."""
    keys: list[str] = []

    async def lose(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == nth:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route(re.compile(url), lose)
    return keys


async def _open_invoice(app: App, patient_id: str, number: str) -> None:
    await app.go(f"invoices?patient_id={patient_id}")
    await app.page.get_by_role("link", name=number).click()
    await expect(app.page.get_by_role("heading", name=re.compile(number))).to_be_visible()


async def test_a_clerk_takes_a_payment_once_refunds_it_in_part_and_credits_the_rest(app: App) -> None:
    family = f"Iyer{uuid.uuid4().hex[:6]}"
    patient = _patient(app, family)
    invoice = _invoice(app, patient["id"])
    assert invoice["balance_due"] == "1120.00"
    api = app.server.api("billing_clerk")

    await app.sign_in("billing_clerk")
    await expect(app.page.get_by_role("heading", name="Invoices")).to_be_visible()
    await _open_invoice(app, patient["id"], invoice["number"])
    page = app.page
    amount = page.locator("form.take-payment").get_by_label("Amount")
    await expect(amount).to_have_value("1120.00")
    await app.screenshot("billing-invoice")

    # A double click on Pay is one attempt: one Idempotency-Key, one payment.
    await amount.fill("500.00")
    await page.get_by_label("Method").select_option("cash")
    await page.get_by_role("button", name="Pay", exact=True).dblclick()
    await expect(page.get_by_text(re.compile(r"Payment PAY-.* recorded"))).to_be_visible()
    await expect(page.locator(".balance")).to_have_text("620.00 INR")
    payments = _payments(api, invoice["id"])
    assert [(p["amount"], p["status"]) for p in payments] == [("500.00", "completed")]

    # A declined card: the API's problem is shown, the payment is stored as failed, nothing is charged.
    await page.get_by_label("Method").select_option("card")
    await page.get_by_label("Card token").fill("tok_declined")
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.get_by_role("alert").filter(has_text="PAYMENT_DECLINED")).to_be_visible()
    assert sorted(p["status"] for p in _payments(api, invoice["id"])) == ["completed", "failed"]
    await expect(page.locator(".balance")).to_have_text("620.00 INR")

    # A refund asks first; going back refunds nothing.
    await (
        page.get_by_role("row", name=re.compile(payments[0]["reference"])).get_by_role("button", name="Refund").click()
    )
    refund_form = page.locator("form.refund")
    await refund_form.get_by_label("Refund amount").fill("200.00")
    await refund_form.get_by_label("Reason").fill("Dressing charged twice")
    await refund_form.get_by_role("button", name="Refund").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("A refund cannot be undone")
    await dialog.get_by_role("button", name="Go back").click()
    assert api.get("/refunds", params={"invoice_id": invoice["id"]}).json()["items"] == []
    await refund_form.get_by_role("button", name="Refund").click()
    await dialog.get_by_role("button", name="Refund").click()
    await expect(page.get_by_text(re.compile(r"Refund .* issued"))).to_be_visible()
    await expect(page.locator(".balance")).to_have_text("820.00 INR")
    refunds = api.get("/refunds", params={"invoice_id": invoice["id"]}).json()["items"]
    assert [r["amount"] for r in refunds] == ["200.00"]

    # A credit note, confirmed, lowers what the patient owes.
    await page.get_by_label("Credit amount").fill("120.00")
    await page.get_by_label("Credit reason").fill("Goodwill: long wait")
    await page.get_by_role("button", name="Issue credit note").click()
    await page.get_by_role("dialog").get_by_role("button", name="Issue credit note").click()
    await expect(page.get_by_text(re.compile(r"Credit note CN-.* issued"))).to_be_visible()
    await expect(page.locator(".balance")).to_have_text("700.00 INR")
    notes = api.get("/credit-notes", params={"invoice_id": invoice["id"]}).json()["items"]
    assert [n["amount"] for n in notes] == ["120.00"]
    assert api.get(f"/invoices/{invoice['id']}").json()["balance_due"] == "700.00"
    await app.screenshot("billing-invoice-paid")
    await page.set_viewport_size({"width": 820, "height": 1180})
    await app.screenshot("billing-invoice-tablet")


async def test_too_much_is_refused_with_the_problem_and_nothing_is_charged(app: App) -> None:
    patient = _patient(app, f"Nair{uuid.uuid4().hex[:6]}")
    invoice = _invoice(app, patient["id"], "100.00")
    await app.sign_in("receptionist")  # the front desk takes payments too
    await app.go(f"invoices/{invoice['id']}")
    page = app.page
    await page.locator("form.take-payment").get_by_label("Amount").fill("5000.00")
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.get_by_role("alert").filter(has_text="AMOUNT_EXCEEDS_BALANCE")).to_be_visible()
    assert _payments(app.server.api("billing_clerk"), invoice["id"]) == []
    # The receptionist neither voids nor credits.
    await expect(page.get_by_role("button", name="Void invoice")).to_have_count(0)
    await expect(page.get_by_role("button", name="Issue credit note")).to_have_count(0)


async def test_a_clerk_voids_an_unpaid_invoice_after_confirming(app: App) -> None:
    patient = _patient(app, f"Das{uuid.uuid4().hex[:6]}")
    invoice = _invoice(app, patient["id"])
    await app.sign_in("billing_clerk")
    await _open_invoice(app, patient["id"], invoice["number"])
    page = app.page
    await page.get_by_role("button", name="Void invoice").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(f"Void invoice {invoice['number']}")
    await dialog.get_by_role("button", name="Go back").click()
    assert app.server.api("billing_clerk").get(f"/invoices/{invoice['id']}").json()["status"] == "issued"
    await page.get_by_role("button", name="Void invoice").click()
    await dialog.get_by_role("button", name="Void invoice").click()
    await expect(page.get_by_role("heading", name=re.compile(invoice["number"])).get_by_text("void")).to_be_visible()
    await expect(page.get_by_role("button", name="Pay", exact=True)).to_have_count(0)
    assert app.server.api("billing_clerk").get(f"/invoices/{invoice['id']}").json()["status"] == "void"

    # The list filters by patient (found by name) and status.
    await app.go("invoices")
    await page.get_by_label("Patient name").fill(patient["last_name"])
    await page.get_by_label("Status").select_option("void")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text(f"Invoices of {patient['last_name']}, Meera")).to_be_visible()
    await expect(page.get_by_role("link", name=invoice["number"])).to_be_visible()
    await app.go(f"invoices?patient_id={patient['id']}&status=issued")
    await expect(page.get_by_text("No invoice matches these filters.")).to_be_visible()


async def _printed(app: App, button: Locator, path: str, filename: str) -> None:
    """Pressing `button` asks the API for `path` as a PDF and opens what came back in a new tab (a blob: URL), with
    a download link beside it."""
    page = app.page
    answers: list[tuple[str | None, str, bytes]] = []

    async def keep(route: Route) -> None:  # passes the API's answer through, keeping a copy to check
        fetched = await route.fetch()
        answers.append(
            (route.request.headers.get("accept"), fetched.headers.get("content-type", ""), await fetched.body())
        )
        await route.fulfill(response=fetched)

    await page.route(re.compile(re.escape(path) + "$"), keep)
    async with page.context.expect_page() as tab:
        await button.click()
    opened = await tab.value
    assert opened.url.startswith("blob:")
    await opened.close()
    await page.unroute(re.compile(re.escape(path) + "$"))
    # The page may read the same path as JSON meanwhile (a refresh); the print is the one PDF request.
    [(content_type, body)] = [(kind, body) for accept, kind, body in answers if accept == "application/pdf"]
    assert content_type.startswith("application/pdf")
    assert body.startswith(b"%PDF-")
    await expect(page.get_by_role("link", name=f"Download {filename}")).to_be_visible()


async def test_the_invoice_and_a_receipt_print_as_pdf(app: App) -> None:
    """Awaits the PDF endpoints (Accept: application/pdf on GET /invoices/{id} and /payments/{id}/receipt)."""
    patient = _patient(app, f"Pillai{uuid.uuid4().hex[:6]}")
    invoice = _invoice(app, patient["id"])
    body = {"invoice_id": invoice["id"], "amount": "100.00", "method": "cash"}
    paid = app.server.api("billing_clerk").post("/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    paid.raise_for_status()
    payment = paid.json()
    await app.sign_in("billing_clerk")
    await app.go(f"invoices/{invoice['id']}")
    page = app.page
    printing = page.get_by_role("button", name="Print invoice")
    await _printed(app, printing, f"/invoices/{invoice['id']}", f"{invoice['number']}.pdf")
    receipt = page.get_by_role("row", name=re.compile(payment["reference"])).get_by_role("button", name="Receipt")
    await _printed(app, receipt, f"/payments/{payment['id']}/receipt", f"{payment['reference']}.pdf")


async def test_a_payment_whose_answer_was_lost_is_retried_with_the_same_key_and_charged_once(app: App) -> None:
    patient = _patient(app, f"Bose{uuid.uuid4().hex[:6]}")
    invoice = _invoice(app, patient["id"], "100.00")
    await app.sign_in("billing_clerk")
    await app.go(f"invoices/{invoice['id']}")
    page = app.page
    # The first attempt reaches the server, which charges; its answer never reaches the browser.
    keys = await _lose_answer(page, r"/api/v1/payments$", 1)
    await page.locator("form.take-payment").get_by_label("Amount").fill("50.00")
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.get_by_role("alert").filter(has_text="No connection")).to_be_visible()
    await expect(page.get_by_text("Pressing Pay again retries this same payment safely")).to_be_visible()
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.get_by_text(re.compile(r"Payment PAY-.* recorded"))).to_be_visible()
    assert len(keys) == 2
    assert keys[0] == keys[1]
    payments = _payments(app.server.api("billing_clerk"), invoice["id"])
    assert [(p["amount"], p["status"]) for p in payments] == [("50.00", "completed")]

    # The next payment is a new attempt: a new key.
    await page.locator("form.take-payment").get_by_label("Amount").fill("12.00")
    await page.get_by_role("button", name="Pay", exact=True).click()
    await expect(page.locator(".balance")).to_have_text("50.00 INR")
    assert len(keys) == 3
    assert keys[2] != keys[0]


async def test_a_refund_whose_answer_was_lost_is_retried_with_the_same_key_and_refunded_once(app: App) -> None:
    patient = _patient(app, f"Menon{uuid.uuid4().hex[:6]}")
    invoice = _invoice(app, patient["id"], "100.00")
    api = app.server.api("billing_clerk")
    body = {"invoice_id": invoice["id"], "amount": "112.00", "method": "cash"}
    paid = api.post("/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    paid.raise_for_status()
    payment = paid.json()
    await app.sign_in("billing_clerk")
    await app.go(f"invoices/{invoice['id']}")
    page = app.page
    keys = await _lose_answer(page, r"/api/v1/payments/[^/]+/refunds$", 2)
    row = page.get_by_role("row", name=re.compile(payment["reference"]))
    await row.get_by_role("button", name="Refund").click()
    refund_form = page.locator("form.refund")

    async def refund(amount: str) -> None:
        await refund_form.get_by_label("Refund amount").fill(amount)
        await refund_form.get_by_label("Reason").fill("Paid at the wrong counter")
        await refund_form.get_by_role("button", name="Refund").click()
        await page.get_by_role("dialog").get_by_role("button", name="Refund").click()

    # Too much: the server answers (refused), so the next attempt is a new one with a new key.
    await refund("500.00")
    await expect(page.get_by_role("alert").filter(has_text="REFUND_EXCEEDS_PAYMENT")).to_be_visible()
    # The next attempt is refunded by the server; its answer never reaches the browser. The retry replays it.
    await refund("30.00")
    await expect(page.get_by_role("alert").filter(has_text="No connection")).to_be_visible()
    await refund_form.get_by_role("button", name="Refund").click()
    await page.get_by_role("dialog").get_by_role("button", name="Refund").click()
    await expect(page.get_by_text(re.compile(r"Refund .* issued"))).to_be_visible()
    assert len(keys) == 3
    assert keys[0] != keys[1]
    assert keys[1] == keys[2]
    refunds = api.get("/refunds", params={"invoice_id": invoice["id"]}).json()["items"]
    assert [r["amount"] for r in refunds] == ["30.00"]
