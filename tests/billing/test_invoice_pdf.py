"""The printable invoice: `GET /invoices/{id}` with `Accept: application/pdf` answers one A4 page holding the clinic,
the patient, the lines, tax, the insurance split, credit notes, payments, refunds and the balance; JSON stays the
default; what can be served as neither is 406. Read as the JSON is: scoped to the patient, audited."""

from __future__ import annotations

import pytest

from tests.builders.billing import (
    INVOICES,
    completed_visit_invoice,
    free_line,
    make_credit_note,
    manual_invoice,
    read_invoice,
)
from tests.builders.documents import A4, PDF, printed
from tests.builders.patients import make_patient
from tests.builders.payments import make_payment, refund
from tests.harness import assert_problem


def url(invoice: dict) -> str:
    return f"{INVOICES}/{invoice['id']}"


async def audited_reads(env, invoice: dict) -> int:
    return await env.count("audit_events", "action = 'invoice.read' AND entity_id = :id", id=invoice["id"])


@pytest.fixture
async def invoice(env) -> dict:
    """Insured cardiology visit: subtotal 1500.00, tax 180.00, total 1680.00, insurance 1512.00, patient 168.00."""
    return await completed_visit_invoice(env)


async def test_the_pdf_holds_the_clinic_the_patient_and_every_figure(env):
    patient = await make_patient(
        env,
        first_name="Zoë",
        last_name="Łukasiewicz-Ørsted",
        insurance={"bin": "610014", "pcn": "ABC123", "member_id": "M-77"},
    )
    invoice = await completed_visit_invoice(env, patient=patient)
    payment = await make_payment(env, invoice["id"], "100.00")
    note = await make_credit_note(env, invoice["id"], "18.00", "Late start")
    refunded = await refund(env, payment["id"], "10.00")
    assert refunded.status_code == 201, refunded.text
    json_form = await read_invoice(env, invoice["id"])
    assert json_form["balance_due"] == "60.00"  # 168.00 - 18.00 - (100.00 - 10.00)

    response = await env.client.get(url(invoice), headers={**env.admin, **PDF})

    document = printed(response)
    assert (document.pages, document.size) == (1, A4)
    assert response.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Accept"
    expected = [
        "CAREMESH DEMO CLINIC",
        "100 MAIN STREET",
        "NPI 1234567893",
        "INVOICE",
        invoice["number"],
        "Zoë Łukasiewicz-Ørsted",
        patient["date_of_birth"],
        patient["id"],
        "BIN 610014 · PCN ABC123 · Member M-77",
        "Cardiology consultation CONSULT-CARDIOLOGY 1 1500.00 1500.00",
        "Subtotal 1500.00",
        "Tax (12%) 180.00",
        "Total (INR) 1680.00",
        "Insurance share (90%) 1512.00",
        "Patient share 168.00",
        "Credit notes -18.00",
        "Payments -100.00",
        "Refunds 10.00",
        "Balance due (INR) 60.00",
        f"{note['number']} Credit note: Late start -18.00",
        f"{payment['reference']} Payment (cash) -100.00",
        f"Refund of {payment['reference']} 10.00",
        "Partially paid",
    ]
    assert document.missing(*expected) == []


async def test_json_stays_the_default(env, invoice):
    for accept in (None, "*/*", "application/json", "application/*", "text/html,application/xhtml+xml,*/*;q=0.8"):
        headers = dict(env.admin) if accept is None else {**env.admin, "Accept": accept}
        response = await env.client.get(url(invoice), headers=headers)
        assert response.status_code == 200, (accept, response.text)
        assert response.headers["content-type"] == "application/json", accept
        assert response.json()["number"] == invoice["number"]
        assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/pdf", "application/pdf"),
        ("application/json;q=0.5, application/pdf", "application/pdf"),
        ("application/pdf;q=0.9, application/json;q=0.2", "application/pdf"),
        ("application/json;q=0, */*", "application/pdf"),
        ("application/pdf;q=0, */*", "application/json"),
        ("application/json;q=0.4, application/pdf;q=0.4", "application/json"),  # a tie: the default
    ],
)
async def test_q_values_choose_the_media_type(env, invoice, accept, media_type):
    response = await env.client.get(url(invoice), headers={**env.admin, "Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type


@pytest.mark.parametrize("accept", ["text/csv", "text/html", "application/pdf;q=0, application/json;q=0", "image/*"])
async def test_what_neither_form_can_serve_is_406(env, invoice, accept):
    before = await audited_reads(env, invoice)
    response = await env.client.get(url(invoice), headers={**env.admin, "Accept": accept})
    assert_problem(response, 406, "NOT_ACCEPTABLE")
    assert await audited_reads(env, invoice) == before  # nothing was read


async def test_the_pdf_read_is_audited_like_the_json_read(env, invoice):
    before = await audited_reads(env, invoice)
    printed(await env.client.get(url(invoice), headers={**env.admin, **PDF}))
    assert await audited_reads(env, invoice) == before + 1


async def test_a_patient_prints_their_own_invoice_and_no_one_elses(env, invoice):
    own = await env.user(["patient"], patient_id=invoice["patient_id"])
    assert printed(await env.client.get(url(invoice), headers={**own, **PDF})).has(invoice["number"])

    other = await make_patient(env)
    stranger = await env.user(["patient"], patient_id=other["id"])
    assert_problem(await env.client.get(url(invoice), headers={**stranger, **PDF}), 404, "INVOICE_NOT_FOUND")

    nurse = await env.user(["nurse"])
    assert_problem(await env.client.get(url(invoice), headers={**nurse, **PDF}), 403, "FORBIDDEN")


async def test_an_unknown_invoice_is_404_in_either_form(env):
    missing = f"{INVOICES}/00000000-0000-4000-8000-000000000000"
    assert_problem(await env.client.get(missing, headers={**env.admin, **PDF}), 404, "INVOICE_NOT_FOUND")


async def test_many_lines_still_fit_one_page_the_rest_summed_up(env):
    patient = await make_patient(env)
    lines = [free_line(f"{10 + n}.00", description=f"Dressing change {n:02d}") for n in range(1, 41)]
    invoice = await manual_invoice(env, patient["id"], lines)
    # and the longest account too: credit notes, payments and refunds past what the page lists
    await make_credit_note(env, invoice["id"], "6.40", "Rounding")
    paid = [await make_payment(env, invoice["id"], "100.00") for _ in range(9)]
    assert (await refund(env, paid[0]["id"], "100.00")).status_code == 201
    invoice = await read_invoice(env, invoice["id"])
    assert invoice["balance_due"] == "560.00"  # 1366.40 - 6.40 - 900.00 + 100.00

    document = printed(await env.client.get(url(invoice), headers={**env.admin, **PDF}))

    assert (document.pages, document.size) == (1, A4)
    assert document.missing("Dressing change 01 MANUAL 1 11.00 11.00", "Dressing change 13 MANUAL 1 23.00 23.00") == []
    assert "Dressing change 14" not in document.text
    hidden = sum(10 + n for n in range(14, 41))  # lines 14 to 40
    assert document.missing(f"… and 27 more lines, together {hidden}.00 (all in the subtotal)") == []
    assert document.missing(f"Subtotal {invoice['subtotal']}", f"Balance due (INR) {invoice['balance_due']}") == []


async def test_many_payments_still_fit_one_page(env, invoice):
    payments = [await make_payment(env, invoice["id"], "10.00") for _ in range(10)]

    document = printed(await env.client.get(url(invoice), headers={**env.admin, **PDF}))

    assert document.pages == 1
    assert document.missing(f"{payments[4]['reference']} Payment (cash) -10.00") == []
    assert payments[5]["reference"] not in document.text
    assert document.missing("… and 5 more entries, together -50.00 (all in the totals)") == []
    assert document.missing("Payments -100.00", "Balance due (INR) 68.00") == []


async def test_a_void_invoice_says_so(env):
    patient = await make_patient(env)
    invoice = await manual_invoice(env, patient["id"])
    voided = await env.client.post(f"{url(invoice)}/void", json={"reason": "Entered twice"}, headers=env.admin)
    assert voided.status_code == 200, voided.text

    document = printed(await env.client.get(url(invoice), headers={**env.admin, **PDF}))

    assert document.missing("INVOICE (VOID)", "Entered twice", "Void: nothing is due") == []
    assert "Balance due" not in document.text


async def test_the_openapi_document_lists_both_forms_and_406(env):
    operation = (await env.client.get("/openapi.json")).json()["paths"]["/api/v1/invoices/{invoice_id}"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "application/pdf"}
    assert "NOT_ACCEPTABLE" in operation["responses"]["406"]["description"]
