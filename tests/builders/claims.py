"""Builders for claims through the API: a claims officer, an insured patient's completed visit with its invoice,
claims created / submitted / processed, remittance bodies and X12 835 texts paying given claims."""

from __future__ import annotations

import io
import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pyx12.params
import pyx12.x12n_document

from tests.builders.billing import INSURANCE, completed_visit_invoice, next_working_day, practice_start, rfc3339
from tests.builders.insurance import add_benefit, make_coverage, make_payer, make_scheme, verify
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.records import diagnosis, make_record
from tests.builders.scheduling import travel

API = "/api/v1"
CLAIMS = f"{API}/claims"
DISPUTES = f"{API}/disputes"
RECONCILE = f"{API}/reconciliation/process"
REPORT = f"{API}/reconciliation/report"
INVOICES = f"{API}/invoices"
VISIT_DIAGNOSIS = "I10"  # essential (primary) hypertension; I10 in the 837P
PATIENT_DIAGNOSIS = "E11.9"  # type 2 diabetes without complications; E119 in the 837P
US_ADDRESS = {"line1": "12 Elm Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"}

_serial = itertools.count(1)


def d(amount: str | Decimal) -> Decimal:
    return Decimal(str(amount))


def s(amount: Decimal) -> str:
    """Money as the API writes it."""
    return f"{amount.quantize(Decimal('0.01'))}"


# --- users and time ------------------------------------------------------------------------------------------


async def claims_officer(env: Any) -> dict[str, str]:
    """Headers of a new claims officer (valid 15 minutes of test time)."""
    return await env.user(["claims_officer"])


async def travel_by(env: Any, **delta: float) -> None:
    """Move the test clock forward (admin logged in again)."""
    await travel(env, rfc3339(env.clock.now() + timedelta(**delta)))


# --- the insured visit -----------------------------------------------------------------------------------------


@dataclass
class Insured:
    patient: dict[str, Any]
    payer: dict[str, Any]
    scheme: dict[str, Any]
    coverage: dict[str, Any] | None
    benefit: dict[str, Any] | None


async def insured(
    env: Any,
    *,
    benefit: dict[str, Any] | None = None,
    coverage: bool = True,
    payer: dict[str, Any] | None = None,
    diagnosed: bool = True,
    **patient: Any,
) -> Insured:
    """A payer, a scheme with one benefit (default consultation 80 %, no deductible / limit) and a patient covered
    by it from 2030-01-01 (`patient` overrides the patient's fields), `diagnosed` with an active PATIENT_DIAGNOSIS
    (outside any visit: what the claim of an order's invoice carries)."""
    payer = payer or await make_payer(env)
    scheme = await make_scheme(env, payer)
    added = await add_benefit(env, scheme, **(benefit or {})) if benefit != {} else None
    person = await make_patient(env, **patient)
    if diagnosed:
        await make_record(env, person["id"], diagnosis(code=PATIENT_DIAGNOSIS))
    cover = await make_coverage(env, patient=person, scheme=scheme) if coverage else None
    return Insured(person, payer, scheme, cover, added)


async def cardiologist(env: Any, years: int = 26) -> dict[str, Any]:
    return await make_practitioner(env, specialty="cardiology", practice_start_date=practice_start(years))


async def general_practitioner(env: Any) -> dict[str, Any]:
    """Billed by the hour (CONSULT-GENERAL: 200.00 an hour, at least one): a 30-minute visit totals 224.00."""
    return await make_practitioner(env, specialty="general_practice", practice_start_date=practice_start(12))


async def visit_invoice(
    env: Any,
    patient: dict[str, Any],
    practitioner: dict[str, Any] | None = None,
    *,
    diagnoses: tuple[str, ...] = (VISIT_DIAGNOSIS,),
    **visit: Any,
) -> dict[str, Any]:
    """A completed (and billed) visit of `patient` on the next working day, its `diagnoses` recorded by its
    doctor (a claim is submitted with them); its invoice. The first visit of a patient with the default
    cardiologist: total 1680.00."""
    bill = await completed_visit_invoice(env, patient=patient, practitioner=practitioner, **visit)
    for code in diagnoses:
        await diagnose(env, bill, code)
    return bill


async def diagnose(env: Any, invoice: dict[str, Any], code: str = VISIT_DIAGNOSIS) -> dict[str, Any]:
    """Record an active diagnosis through the API: on the invoice's visit, or (an order's invoice) the patient's.
    A second of the test clock passes first (it stands still otherwise), so entries are ordered as recorded."""
    env.clock.advance(seconds=1)
    return await make_record(
        env, invoice["patient_id"], diagnosis(code=code), appointment_id=invoice.get("appointment_id")
    )


async def insured_invoice(env: Any, **options: Any) -> tuple[Insured, dict[str, Any]]:
    """An insured patient (see `insured`) and the invoice of their first visit: 1680.00, at 80 % 1344.00."""
    case = await insured(env, **options)
    return case, await visit_invoice(env, case.patient)


async def invoice(env: Any, invoice_id: str) -> dict[str, Any]:
    response = await env.client.get(f"{INVOICES}/{invoice_id}", headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()


async def bin_payer(env: Any) -> dict[str, Any]:
    """The payer that tests.builders.billing.INSURANCE's BIN/PCN resolves to."""
    return await make_payer(env, bin=INSURANCE["bin"], pcn=INSURANCE["pcn"])


async def accumulators(env: Any, case: Insured, service_date: str, amount: str = "100.00") -> tuple[str, str | None]:
    """(deductible that `amount` would still take, remaining annual limit) by POST /coverage/verify."""
    found = await verify(env, case.patient, amount, category=case_category(case), service_date=service_date)
    return found["deductible_applied"], found["remaining_annual_limit"]


def case_category(case: Insured) -> str:
    return case.benefit["category"] if case.benefit else "consultation"


async def twin_visit_invoices(env: Any, minutes: tuple[int, ...] = (30, 30)) -> list[dict[str, Any]]:
    """Visits the same day with the same general practitioner, of patients sharing one member id (and a payer
    for their BIN): with the same duration their invoices ask the same amount."""
    await bin_payer(env)
    practitioner = await general_practitioner(env)
    first_day = next_working_day(env)
    bills = []
    for n, length in enumerate(minutes):
        patient = await make_patient(env, insurance=INSURANCE)
        start = datetime.combine(first_day, time(10 + 2 * n), tzinfo=UTC)
        bills.append(await visit_invoice(env, patient, practitioner, start=start, minutes=length))
    return bills


# --- claims ---------------------------------------------------------------------------------------------------


async def create(env: Any, invoice_id: str, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return await env.client.post(CLAIMS, json={"invoice_id": invoice_id, **body}, headers=headers or env.admin)


async def act(
    env: Any, claim: dict[str, Any] | str, action: str, body: dict[str, Any] | None = None, headers: Any = None
) -> httpx.Response:
    """POST /claims/{id}/{action} (submit, process, approve, reject)."""
    claim_id = claim if isinstance(claim, str) else claim["id"]
    return await env.client.post(f"{CLAIMS}/{claim_id}/{action}", json=body, headers=headers or env.admin)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


async def make_claim(env: Any, invoice: dict[str, Any], headers: Any = None, **body: Any) -> dict[str, Any]:
    return ok(await create(env, invoice["id"], headers, **body), 201)


async def submitted_claim(env: Any, invoice: dict[str, Any], headers: Any = None, **body: Any) -> dict[str, Any]:
    claim = await make_claim(env, invoice, headers, **body)
    return ok(await act(env, claim, "submit", headers=headers))


async def processed_claim(env: Any, invoice: dict[str, Any], headers: Any = None) -> dict[str, Any]:
    claim = await submitted_claim(env, invoice, headers)
    return ok(await act(env, claim, "process", headers=headers))


async def approved_claim(env: Any, invoice: dict[str, Any], amount: str | None = None) -> dict[str, Any]:
    """Submitted, then approved by hand (default: the claimed amount)."""
    claim = await submitted_claim(env, invoice)
    return ok(await act(env, claim, "approve", {"approved_amount": amount or claim["claimed_amount"]}))


async def rejected_claim(env: Any, invoice: dict[str, Any], reason_code: str = "16") -> dict[str, Any]:
    claim = await submitted_claim(env, invoice)
    return ok(await act(env, claim, "reject", {"reason_code": reason_code, "reason": "Claim lacks information"}))


async def get_claim(env: Any, claim_id: str, headers: Any = None) -> dict[str, Any]:
    return ok(await env.client.get(f"{CLAIMS}/{claim_id}", headers=headers or env.admin))


async def history(env: Any, claim_id: str) -> list[dict[str, Any]]:
    return ok(await env.client.get(f"{CLAIMS}/{claim_id}/history", headers=env.admin))["items"]


async def x12_837(env: Any, claim_id: str, headers: Any = None) -> httpx.Response:
    return await env.client.get(f"{CLAIMS}/{claim_id}/x12", headers=headers or env.admin)


def adjustments(line: dict[str, Any]) -> dict[str, str]:
    """A claim line's adjustments as {"PR-1": "500.00", ...}."""
    found: dict[str, str] = {}
    for adjustment in line["adjustments"]:
        key = f"{adjustment['group_code']}-{adjustment['reason_code']}"
        assert key not in found, line["adjustments"]
        found[key] = adjustment["amount"]
    return found


def assert_adjustments_balance(claim: dict[str, Any]) -> None:
    """Each line's adjustments add up to charge - approved; reason codes are the adjustments' codes in order."""
    for line in claim["lines"]:
        total = sum((d(a["amount"]) for a in line["adjustments"]), Decimal(0))
        assert total == d(line["charge_amount"]) - d(line["approved_amount"]), line
        assert line["reason_codes"] == list(dict.fromkeys(a["reason_code"] for a in line["adjustments"])), line
    assert d(claim["approved_amount"]) == sum((d(line["approved_amount"]) for line in claim["lines"]), Decimal(0))


# --- disputes ---------------------------------------------------------------------------------------------------


async def dispute(env: Any, claim: dict[str, Any], reason: str = "Medically necessary", headers: Any = None):
    return await env.client.post(
        DISPUTES, json={"claim_id": claim["id"], "reason": reason}, headers=headers or env.admin
    )


async def resolve(env: Any, dispute_id: str, outcome: str, headers: Any = None, **body: Any) -> httpx.Response:
    return await env.client.post(
        f"{DISPUTES}/{dispute_id}/resolve", json={"outcome": outcome, **body}, headers=headers or env.admin
    )


# --- remittances ------------------------------------------------------------------------------------------------


def remittance(payer_code: str, *items: tuple[dict[str, Any] | str, str], remittance_id: str | None = None) -> dict:
    """A JSON remittance paying (claim or claim number, paid amount) items."""
    return {
        "remittance_id": remittance_id or f"EFT-{next(_serial):06d}",
        "payer_code": payer_code,
        "items": [
            {
                "claim_number": claim if isinstance(claim, str) else claim["number"],
                "paid_amount": paid,
                "adjustment_codes": ["CO-45"],
            }
            for claim, paid in items
        ],
    }


def x12_835(payer_code: str, payments: list[tuple[str, str, str]], remittance_id: str = "EFT-835-1") -> str:
    """An 835 interchange from payer `payer_code` paying (claim number, billed, paid), the rest as CO-45."""
    total = sum((Decimal(paid) for _, _, paid in payments), Decimal(0))
    body = [
        "ST*835*0001",
        f"BPR*I*{total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20300120",
        f"TRN*1*{remittance_id}*1512345678",
        "DTM*405*20300119",
        f"N1*PR*ACME HEALTH*XV*{payer_code}",
        "N3*1 INSURANCE WAY",
        "N4*HARTFORD*CT*061560001",
        "PER*BL*PROVIDER SERVICES*TE*8005551212",
        "N1*PE*CAREMESH DEMO CLINIC*XX*1234567893",
        "LX*1",
    ]
    for n, (number, billed, paid) in enumerate(payments, start=1):
        body += [f"CLP*{number}*1*{billed}*{paid}**12*PAYER{n}*11*1", f"NM1*QC*1*RAO*ASHA****MI*MBR{n}"]
        if Decimal(billed) > Decimal(paid):
            body.insert(len(body) - 1, f"CAS*CO*45*{Decimal(billed) - Decimal(paid)}")
    body.append(f"SE*{len(body) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*ACME01         *ZZ*123456789      *300120*1200*^*00501*000000077*0*P*:"
    envelope = [isa, "GS*HP*ACME01*123456789*20300120*1200*77*X*005010X221A1", *body, "GE*1*77", "IEA*1*000000077"]
    return "~\n".join(envelope) + "~\n"


async def post_remittance(env: Any, body: dict[str, Any] | str, headers: Any = None) -> httpx.Response:
    """POST /reconciliation/process with a JSON remittance or an 835 text (text/plain)."""
    headers = headers or env.admin
    if isinstance(body, str):
        return await env.client.post(
            RECONCILE, content=body.encode(), headers={**headers, "Content-Type": "text/plain"}
        )
    return await env.client.post(RECONCILE, json=body, headers=headers)


async def report(env: Any, start: str, end: str, headers: Any = None) -> httpx.Response:
    return await env.client.get(REPORT, params={"from": start, "to": end}, headers=headers or env.admin)


# --- X12 validation ---------------------------------------------------------------------------------------------


def pyx12_999(text: str) -> tuple[bool, str]:
    """pyx12's verdict on an 837P and its 999 acknowledgement (AK9*A when accepted)."""
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    ack = io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=io.StringIO(text),
        fd_997=ack,
        fd_html=None,
        fd_xmldoc=None,
        map_path=None,
    )
    return valid, ack.getvalue()


def today(env: Any) -> str:
    return env.clock.now().date().isoformat()
