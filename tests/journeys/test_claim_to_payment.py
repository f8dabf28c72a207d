"""The claims issue's "done means", as a new user would try it through the API only: an admin creates a claims
officer; a payer, a scheme and its benefit, a patient enrolled; a completed visit whose invoice the scheme splits;
the claim created, submitted and adjudicated; an 837P an independent validator accepts; the payer's remittance
posted (and posted again) and the claim paid once, the invoice's insurance share paid."""

from __future__ import annotations

import io
import logging
from datetime import datetime, time, timedelta
from typing import Any

import pyx12.params
import pyx12.x12n_document

from tests.builders.billing import complete, invoice_of, next_working_day, practice_start, rfc3339
from tests.builders.scheduling import make_appointment
from tests.harness import T0, USER_PASSWORD, outbox_payloads

API = "/api/v1"


async def test_from_an_insured_visit_to_a_paid_claim(env):
    async def call(method: str, path: str, headers: dict[str, str], expected: int, **body: Any) -> Any:
        response = await env.client.request(method, f"{API}{path}", headers=headers, json=body or None)
        assert response.status_code == expected, response.text
        return response.json()

    # The admin creates a claims officer, who logs in.
    await call(
        "POST", "/users", env.admin, 201, email="officer@example.org", password=USER_PASSWORD,
        full_name="Claims Officer", roles=["claims_officer"],
    )  # fmt: skip
    officer = await env.login("officer@example.org")

    # A payer, its scheme with a consultation benefit, and a patient enrolled in it.
    payer = await call("POST", "/payers", officer, 201, code="STARHEALTH", name="Star Health")
    scheme = await call("POST", "/schemes", officer, 201, payer_id=payer["id"], code="GOLD", name="Gold Plan")
    await call(
        "POST", f"/schemes/{scheme['id']}/benefits", officer, 201, category="consultation", coverage_percent="80.00",
        copay_amount="0.00", deductible="0.00", annual_limit="50000.00", requires_preauth=False,
    )  # fmt: skip
    patient = await call(
        "POST", "/patients", env.admin, 201, first_name="Ada", last_name="Lovelace", date_of_birth="1980-04-01",
        gender="female", address={"line1": "12 Elm Street", "city": "Springfield", "state": "IL",
                                  "postal_code": "62701", "country": "US"},
    )  # fmt: skip
    coverage = await call(
        "POST", "/coverages", officer, 201, patient_id=patient["id"], scheme_id=scheme["id"], member_id="GOLD-000042",
        valid_from="2030-01-01",
    )  # fmt: skip
    cardiologist = await call(
        "POST", "/practitioners", env.admin, 201, first_name="Meera", last_name="Iyer", npi="1234567893",
        specialty="cardiology", practice_start_date=practice_start(26), phone="+919800000001",
        email="meera@clinic.example.org",
    )  # fmt: skip

    # A completed visit: the invoice is split by the scheme, 80 % of 1680.00.
    start = datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
    booked = await make_appointment(
        env, patient_id=patient["id"], practitioner_id=cardiologist["id"], start=rfc3339(start)
    )
    await complete(env, booked["id"], start, start + timedelta(minutes=30))
    await env.drain()  # the server's workers do this within milliseconds
    officer = await env.login("officer@example.org")  # the clock moved: access tokens live 15 minutes
    invoice = await invoice_of(env, booked["id"], headers=officer)
    assert (invoice["total"], invoice["coverage_percent"], invoice["insurance_amount"], invoice["patient_amount"]) == (
        "1680.00",
        "80.00",
        "1344.00",
        "336.00",
    )

    # The claim: created, submitted, adjudicated.
    claim = await call("POST", "/claims", officer, 201, invoice_id=invoice["id"], diagnosis_codes=["I10"])
    assert (claim["status"], claim["claimed_amount"], claim["member_id"], claim["payer_code"]) == (
        "draft",
        "1344.00",
        coverage["member_id"],
        "STARHEALTH",
    )
    assert (await call("POST", f"/claims/{claim['id']}/submit", officer, 200))["status"] == "submitted"
    decided = await call("POST", f"/claims/{claim['id']}/process", officer, 200)
    assert (decided["status"], decided["approved_amount"]) == ("approved", "1344.00")
    assert decided["lines"][0]["adjustments"] == [{"group_code": "PR", "reason_code": "2", "amount": "336.00"}]
    verified = await call(
        "POST", "/coverage/verify", officer, 200, patient_id=patient["id"], category="consultation", amount="100.00",
        service_date=invoice["service_date"],
    )  # fmt: skip
    assert verified["remaining_annual_limit"] == "48656.00"

    # The 837P for the payer, accepted by an independent validator.
    x12 = await env.client.get(f"{API}/claims/{claim['id']}/x12", headers=officer)
    assert x12.status_code == 200
    assert x12.headers["content-type"].startswith("text/plain")
    assert x12.text.startswith("ISA")
    assert "ST*837*" in x12.text
    assert "005010X222A1" in x12.text
    assert claim["number"] in x12.text
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    ack = io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(x12.text), fd_997=ack, fd_html=None, fd_xmldoc=None,
        map_path=None,
    )  # fmt: skip
    assert "AK9*A" in ack.getvalue(), ack.getvalue()
    assert valid

    # The payer's remittance, posted twice (a retried upload): paid once.
    remittance = {
        "remittance_id": "STAR-EFT-0001",
        "payer_code": "STARHEALTH",
        "items": [{"claim_number": claim["number"], "paid_amount": "1344.00", "adjustment_codes": ["CO-45"]}],
    }
    first = await env.client.post(f"{API}/reconciliation/process", json=remittance, headers=officer)
    again = await env.client.post(f"{API}/reconciliation/process", json=remittance, headers=officer)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["posted_amount"] == "1344.00"

    paid = await call("GET", f"/claims/{claim['id']}", officer, 200)
    assert (paid["status"], paid["paid_amount"]) == ("paid", "1344.00")
    final = await call("GET", f"/invoices/{invoice['id']}", officer, 200)
    assert final["insurance_paid"] == decided["approved_amount"] == "1344.00"
    assert len(await outbox_payloads(env, "claim.paid")) == 1
    steps = [
        (h["action"], h["to_status"])
        for h in (await call("GET", f"/claims/{claim['id']}/history", officer, 200))["items"]
    ]
    assert steps == [
        ("created", "draft"),
        ("submitted", "submitted"),
        ("adjudicated", "approved"),
        ("paid", "paid"),
    ]
    today = env.clock.now().date().isoformat()
    summary = await call("GET", f"/reconciliation/report?from={today}&to={today}", officer, 200)
    assert (summary["remittances"], summary["posted_amount"], summary["outstanding"]) == (
        1,
        "1344.00",
        {"count": 0, "amount": "0.00"},
    )
