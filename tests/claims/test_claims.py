"""Claims through the API: a draft from an invoice and the patient's coverage, submission with its window and
duplicate rules, the state machine, the history, the 837P, and who may do what."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from tests.builders.billing import INSURANCE, completed_visit_invoice, rfc3339
from tests.builders.claims import (
    CLAIMS,
    DISPUTES,
    RECONCILE,
    US_ADDRESS,
    act,
    bin_payer,
    claims_officer,
    create,
    d,
    general_practitioner,
    get_claim,
    history,
    insured,
    insured_invoice,
    invoice,
    make_claim,
    ok,
    post_remittance,
    pyx12_999,
    rejected_claim,
    remittance,
    report,
    submitted_claim,
    twin_visit_invoices,
    visit_invoice,
    x12_837,
)
from tests.builders.orders import invoices_of, place_order, prescription, stock_medication
from tests.builders.patients import make_patient
from tests.builders.scheduling import travel
from tests.harness import assert_problem, every_page, outbox_payloads

NUMBER = re.compile(r"CLM-\d{4}-\d{6}")


async def all_claims(env) -> list[dict]:
    return await every_page(env, CLAIMS)


# --- create --------------------------------------------------------------------------------------------------


async def test_a_claim_is_created_as_a_draft_from_the_invoice_and_the_coverage(env):
    case, bill = await insured_invoice(env)
    officer = await claims_officer(env)

    response = await create(env, bill["id"], officer)

    claim = ok(response, 201)
    assert response.headers["location"].endswith(f"/claims/{claim['id']}")
    assert NUMBER.fullmatch(claim["number"]), claim["number"]
    assert {k: claim[k] for k in ("invoice_id", "invoice_number", "patient_id", "practitioner_id")} == {
        "invoice_id": bill["id"],
        "invoice_number": bill["number"],
        "patient_id": case.patient["id"],
        "practitioner_id": bill["practitioner_id"],
    }
    assert (claim["payer_id"], claim["payer_code"], claim["coverage_id"], claim["member_id"]) == (
        case.payer["id"],
        case.payer["code"],
        case.coverage["id"],
        case.coverage["member_id"],
    )
    assert (claim["category"], claim["service_date"], claim["status"], claim["currency"]) == (
        "consultation",
        bill["service_date"],
        "draft",
        bill["currency"],
    )
    assert (claim["total_charge"], claim["claimed_amount"], claim["approved_amount"], claim["paid_amount"]) == (
        "1680.00",
        "1344.00",
        None,
        "0.00",
    )
    assert claim["diagnosis_codes"] == ["I10"]  # the visit's, as its doctor recorded it
    [line] = claim["lines"]
    assert (line["position"], line["quantity"], line["charge_amount"], line["claimed_amount"]) == (
        1,
        1,
        "1680.00",
        "1344.00",
    )
    assert (line["approved_amount"], line["adjustments"], line["reason_codes"]) == (None, [], [])
    assert claim["submitted_at"] is claim["adjudicated_at"] is claim["paid_at"] is None

    read = await env.client.get(f"{CLAIMS}/{claim['id']}", headers=officer)
    assert read.status_code == 200
    assert read.json() == claim
    assert read.headers["etag"]


async def test_the_lines_of_a_multi_item_order_add_up_to_the_invoice(env):
    case = await insured(env, benefit={"category": "pharmacy", "coverage_percent": "70.00"})
    practitioner = await general_practitioner(env)
    meds = [await stock_medication(env, unit_price=price) for price in ("10.01", "33.33", "0.99")]
    placed = await place_order(env, prescription(case.patient, practitioner, (meds[0], 1), (meds[1], 2), (meds[2], 7)))
    await env.drain()
    [bill] = await invoices_of(env, placed["id"])

    claim = await make_claim(env, bill)

    assert (claim["category"], len(claim["lines"])) == ("pharmacy", 3)
    assert [line["position"] for line in claim["lines"]] == [1, 2, 3]
    assert [line["quantity"] for line in claim["lines"]] == [1, 2, 7]
    assert sum(d(line["charge_amount"]) for line in claim["lines"]) == d(bill["total"]) == d(claim["total_charge"])
    assert sum(d(line["claimed_amount"]) for line in claim["lines"]) == d(bill["insurance_amount"])
    assert d(claim["claimed_amount"]) == d(bill["insurance_amount"])
    # Each line's share follows its amount: the biggest line charges the most.
    charges = [d(line["charge_amount"]) for line in claim["lines"]]
    assert charges[1] > charges[0] > charges[2]


async def test_explicit_diagnosis_codes_are_kept_in_order(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill, diagnosis_codes=["J069", "R059", "E119"])
    assert claim["diagnosis_codes"] == ["J069", "R059", "E119"]


BAD_DIAGNOSES = {
    "none": [],
    "dot": ["Z00.00"],
    "lower": ["z0000"],
    "digit-first": ["0Z000"],
    "short": ["Z0"],
    "long": ["Z0000000"],
    "dash": ["J0-9"],
    "thirteen": [f"J0{n}" for n in range(10, 23)],
    "not-a-list": "Z0000",
}


async def test_bad_diagnosis_codes_are_refused_and_nothing_is_created(env):
    _, bill = await insured_invoice(env)

    for name, codes in BAD_DIAGNOSES.items():
        body = assert_problem(await create(env, bill["id"], diagnosis_codes=codes), 422, "VALIDATION_ERROR")
        assert body["errors"], name

    assert await all_claims(env) == []
    assert await outbox_payloads(env, "claim.submitted") == []


async def test_an_unknown_invoice_is_not_found(env):
    assert_problem(await create(env, "00000000-0000-4000-8000-000000000000"), 404, "INVOICE_NOT_FOUND")
    assert await all_claims(env) == []


async def test_an_invoice_without_an_insurance_share_or_a_void_one_is_not_claimable(env):
    uninsured = await completed_visit_invoice(env, insured=False)
    assert uninsured["insurance_amount"] == "0.00"
    _, covered = await insured_invoice(env)
    voided = await env.client.post(
        f"/api/v1/invoices/{covered['id']}/void", json={"reason": "wrong"}, headers=env.admin
    )
    assert voided.status_code == 200, voided.text

    for bill in (uninsured, covered):
        assert_problem(await create(env, bill["id"]), 409, "NOT_CLAIMABLE")
    assert await all_claims(env) == []


async def test_without_coverage_the_payer_comes_from_the_patients_bin_and_pcn(env):
    payer = await bin_payer(env)
    patient = await make_patient(env, insurance=INSURANCE)
    bill = await visit_invoice(env, patient)

    claim = await make_claim(env, bill)

    assert (claim["coverage_id"], claim["payer_id"], claim["payer_code"], claim["member_id"]) == (
        None,
        payer["id"],
        payer["code"],
        INSURANCE["member_id"],
    )
    assert (claim["total_charge"], claim["claimed_amount"]) == ("1680.00", "1512.00")  # the default 90 %


async def test_no_coverage_and_no_payer_for_the_bin_is_not_claimable(env):
    bill = await completed_visit_invoice(env, insured=True)  # 90 % by default, but no payer holds the BIN
    assert_problem(await create(env, bill["id"]), 409, "NOT_CLAIMABLE")
    assert await all_claims(env) == []


async def test_one_open_claim_per_invoice_but_a_new_one_after_a_rejection(env):
    _, bill = await insured_invoice(env)
    first = await make_claim(env, bill)

    body = assert_problem(await create(env, bill["id"]), 409, "CLAIM_EXISTS")
    assert body["claim_id"] == first["id"]
    assert first["number"] in body["detail"]
    assert [c["id"] for c in await all_claims(env)] == [first["id"]]

    ok(await act(env, first, "submit"))
    assert_problem(await create(env, bill["id"]), 409, "CLAIM_EXISTS")
    ok(await act(env, first, "reject", {"reason_code": "16", "reason": "Missing information"}))

    second = await make_claim(env, bill, diagnosis_codes=["I10"])
    assert second["number"] != first["number"]
    assert assert_problem(await create(env, bill["id"]), 409, "CLAIM_EXISTS")["claim_id"] == second["id"]
    assert sorted(c["id"] for c in await all_claims(env)) == sorted([first["id"], second["id"]])


async def test_an_unknown_claim_is_not_found(env):
    missing = "00000000-0000-4000-8000-000000000000"
    assert_problem(await env.client.get(f"{CLAIMS}/{missing}", headers=env.admin), 404, "CLAIM_NOT_FOUND")
    assert_problem(await act(env, missing, "submit"), 404, "CLAIM_NOT_FOUND")


async def test_claims_are_listed_by_status_patient_invoice_and_payer(env):
    case, bill = await insured_invoice(env)
    other, other_bill = await insured_invoice(env)
    draft = await make_claim(env, bill)
    sent = await submitted_claim(env, other_bill)

    async def ids(**filters) -> list[str]:
        return [c["id"] for c in await every_page(env, CLAIMS, limit=1, **filters)]

    assert sorted(await ids()) == sorted([draft["id"], sent["id"]])
    assert await ids(status="draft") == [draft["id"]]
    assert await ids(status="submitted") == [sent["id"]]
    assert await ids(patient_id=other.patient["id"]) == [sent["id"]]
    assert await ids(invoice_id=bill["id"]) == [draft["id"]]
    assert await ids(payer_id=case.payer["id"]) == [draft["id"]]
    assert await ids(status="paid") == []


# --- submit --------------------------------------------------------------------------------------------------


async def test_submitting_a_draft_sends_it_and_publishes_claim_submitted(env):
    case, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    officer = await claims_officer(env)

    submitted = ok(await act(env, claim, "submit", headers=officer))

    assert submitted["status"] == "submitted"
    assert submitted["submitted_at"] == rfc3339(env.clock.now())
    assert submitted["version"] > claim["version"]
    [event] = await outbox_payloads(env, "claim.submitted")
    assert {k: event[k] for k in ("claim_id", "number", "invoice_id", "patient_id", "payer_id")} == {
        "claim_id": claim["id"],
        "number": claim["number"],
        "invoice_id": bill["id"],
        "patient_id": case.patient["id"],
        "payer_id": case.payer["id"],
    }
    assert (d(event["claimed_amount"]), event["currency"]) == (Decimal("1344.00"), claim["currency"])


@pytest.mark.parametrize(("days", "expired"), [(30, False), (31, True)])
async def test_a_claim_is_submitted_within_30_days_of_the_service_date(env, days, expired):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    service_day = date.fromisoformat(bill["service_date"])
    await travel(env, rfc3339(datetime.combine(service_day + timedelta(days=days), time(23, 30), tzinfo=UTC)))

    response = await act(env, claim, "submit")

    if expired:
        assert_problem(response, 422, "CLAIM_WINDOW_EXPIRED")
        assert (await get_claim(env, claim["id"]))["status"] == "draft"
        assert await outbox_payloads(env, "claim.submitted") == []
    else:
        assert ok(response)["status"] == "submitted"


async def test_the_same_member_practitioner_amount_and_day_within_72_hours_is_a_duplicate(env):
    first_bill, second_bill = await twin_visit_invoices(env)
    assert first_bill["insurance_amount"] == second_bill["insurance_amount"] == "201.60"
    first = await submitted_claim(env, first_bill)
    second = await make_claim(env, second_bill)

    await travel(env, rfc3339(env.clock.now() + timedelta(hours=71)))
    body = assert_problem(await act(env, second, "submit"), 409, "DUPLICATE_CLAIM")
    assert body["duplicate_of"] == first["id"]
    assert (await get_claim(env, second["id"]))["status"] == "draft"

    await travel(env, rfc3339(datetime.fromisoformat(first["submitted_at"]) + timedelta(hours=73)))
    assert ok(await act(env, second, "submit"))["status"] == "submitted"


async def test_a_duplicate_window_of_zero_hours_turns_the_check_off(make_env):
    async with make_env(claims={"claim_duplicate_window_hours": 0}) as env:
        first_bill, second_bill = await twin_visit_invoices(env)
        await submitted_claim(env, first_bill)
        second = await make_claim(env, second_bill)

        assert ok(await act(env, second, "submit"))["status"] == "submitted"


async def test_a_different_amount_or_an_unsent_claim_is_no_duplicate(env):
    short, long, same = await twin_visit_invoices(env, (30, 90, 30))
    assert (short["insurance_amount"], long["insurance_amount"]) == ("201.60", "403.20")
    await make_claim(env, same)  # a draft: not with the payer

    await submitted_claim(env, short)
    await submitted_claim(env, long)


async def test_a_rejected_claim_is_no_duplicate(env):
    first_bill, second_bill = await twin_visit_invoices(env)
    await rejected_claim(env, first_bill)
    assert (await submitted_claim(env, second_bill))["status"] == "submitted"


# --- the state machine ----------------------------------------------------------------------------------------

APPROVE = {"approved_amount": "1344.00"}
REJECT = {"reason_code": "16", "reason": "Missing information"}
ACTIONS = {"submit": None, "process": None, "approve": APPROVE, "reject": REJECT}


@pytest.mark.parametrize(
    ("status", "refused"),
    [
        ("draft", ["process", "approve", "reject"]),
        ("submitted", ["submit"]),
        ("approved", ["submit", "process", "approve", "reject"]),
        ("rejected", ["submit", "process", "approve", "reject"]),
        ("paid", ["submit", "process", "approve", "reject"]),
    ],
)
async def test_actions_from_the_wrong_status_are_invalid_transitions(env, status, refused):
    case, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    if status != "draft":
        claim = ok(await act(env, claim, "submit"))
    if status in ("approved", "paid"):
        claim = ok(await act(env, claim, "approve", APPROVE))
    if status == "rejected":
        claim = ok(await act(env, claim, "reject", REJECT))
    if status == "paid":
        ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00"))), 201)
    before = await get_claim(env, claim["id"])
    assert before["status"] == status

    for action in refused:
        assert_problem(await act(env, claim, action, ACTIONS[action]), 409, "INVALID_STATUS_TRANSITION")

    assert await get_claim(env, claim["id"]) == before


async def test_a_manual_approval_must_be_positive_and_within_the_claim(env):
    _, bill = await insured_invoice(env)
    claim = await submitted_claim(env, bill)

    for amount in ("0.00", "-1.00", "1344.01", "5000.00", "12.345", "abc", None):
        response = await act(env, claim, "approve", {"approved_amount": amount})
        assert response.status_code == 422, (amount, response.text)

    assert await get_claim(env, claim["id"]) == claim
    assert await outbox_payloads(env, "claim.adjudicated") == []


@pytest.mark.parametrize(
    ("amount", "status"), [("1344.00", "approved"), ("1000.00", "partially_approved"), ("0.01", "partially_approved")]
)
async def test_a_manual_approval_approves_in_full_or_in_part(env, amount, status):
    _, bill = await insured_invoice(env)
    claim = await submitted_claim(env, bill)

    approved = ok(await act(env, claim, "approve", {"approved_amount": amount}))

    assert (approved["status"], approved["approved_amount"]) == (status, amount)
    assert approved["adjudicated_at"] == rfc3339(env.clock.now())
    [event] = await outbox_payloads(env, "claim.adjudicated")
    assert (event["claim_id"], event["status"], d(event["approved_amount"]), event["manual"]) == (
        claim["id"],
        status,
        d(amount),
        True,
    )


async def test_a_manual_rejection_keeps_its_reason(env):
    _, bill = await insured_invoice(env)
    claim = await submitted_claim(env, bill)

    rejected = ok(await act(env, claim, "reject", {"reason_code": "B7", "reason": "Provider not certified"}))

    assert (rejected["status"], rejected["approved_amount"]) == ("rejected", "0.00")
    assert (rejected["rejection_reason_code"], rejected["rejection_reason"]) == ("B7", "Provider not certified")


async def test_a_rejection_needs_a_carc(env):
    _, bill = await insured_invoice(env)
    claim = await submitted_claim(env, bill)

    for body in (
        {"reason_code": "b7", "reason": "x"},
        {"reason_code": "123456", "reason": "x"},
        {"reason_code": "CO-16"},
        {},
    ):
        assert_problem(await act(env, claim, "reject", body), 422, "VALIDATION_ERROR")

    assert await get_claim(env, claim["id"]) == claim


# --- history ---------------------------------------------------------------------------------------------------


async def test_the_history_keeps_every_transition_in_order(env):
    case, bill = await insured_invoice(env)
    officer = await claims_officer(env)
    me = ok(await env.client.get("/api/v1/auth/me", headers=officer))
    claim = await make_claim(env, bill, officer)
    ok(await act(env, claim, "submit", headers=officer))
    ok(await act(env, claim, "approve", {"approved_amount": "1300.00"}, headers=officer))
    ok(await post_remittance(env, remittance(case.payer["code"], (claim, "1300.00")), officer), 201)

    items = await history(env, claim["id"])

    assert [(i["from_status"], i["to_status"], i["action"]) for i in items] == [
        (None, "draft", "created"),
        ("draft", "submitted", "submitted"),
        ("submitted", "partially_approved", "approved"),
        ("partially_approved", "paid", "paid"),
    ]
    assert [i["actor_id"] for i in items[:3]] == [me["id"]] * 3
    assert [i["approved_amount"] for i in items[:3]] == [None, None, "1300.00"]
    assert [i["occurred_at"] for i in items] == sorted(i["occurred_at"] for i in items)


async def test_the_history_of_a_rejected_claim(env):
    _, bill = await insured_invoice(env)
    claim = await rejected_claim(env, bill)
    items = await history(env, claim["id"])
    assert [(i["from_status"], i["to_status"], i["action"]) for i in items] == [
        (None, "draft", "created"),
        ("draft", "submitted", "submitted"),
        ("submitted", "rejected", "rejected"),
    ]


async def test_the_history_is_a_paged_list(env):
    _, bill = await insured_invoice(env)
    claim = await rejected_claim(env, bill)
    path = f"{CLAIMS}/{claim['id']}/history"
    first = ok(await env.client.get(path, params={"limit": 2}, headers=env.admin))
    assert ([i["to_status"] for i in first["items"]], bool(first["next_cursor"])) == (["draft", "submitted"], True)
    assert [i["to_status"] for i in await every_page(env, path, limit=1)] == ["draft", "submitted", "rejected"]
    assert_problem(await env.client.get(path, params={"limit": 0}, headers=env.admin), 422, "VALIDATION_ERROR")


# --- the 837P --------------------------------------------------------------------------------------------------


def _assert_837p(text: str, claim: dict) -> None:
    assert text.startswith("ISA")
    assert "ST*837*" in text
    assert "005010X222A1" in text
    assert claim["number"] in text
    valid, ack = pyx12_999(text)
    assert "AK9*A" in ack, ack
    assert valid, ack


async def test_the_837p_of_a_consultation_claim_is_accepted_by_an_independent_validator(env):
    case = await insured(env, address=US_ADDRESS, date_of_birth="1980-04-01")
    bill = await visit_invoice(env, case.patient)
    claim = await make_claim(env, bill, diagnosis_codes=["I10", "R0789"])

    response = await x12_837(env, claim["id"])

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    _assert_837p(response.text, claim)
    assert f"CLM*{claim['number']}*1680*" in response.text or f"CLM*{claim['number']}*1680.00*" in response.text
    assert case.coverage["member_id"] in response.text


async def test_the_837p_of_a_multi_line_order_claim_is_accepted_by_an_independent_validator(env):
    case = await insured(env, address=US_ADDRESS, benefit={"category": "pharmacy", "coverage_percent": "60.00"})
    practitioner = await general_practitioner(env)
    amox, para = await stock_medication(env, unit_price="6.40"), await stock_medication(env, unit_price="1.80")
    placed = await place_order(env, prescription(case.patient, practitioner, (amox, 10), (para, 3)))
    await env.drain()
    [bill] = await invoices_of(env, placed["id"])
    claim = await submitted_claim(env, bill)

    response = await x12_837(env, claim["id"])

    assert response.status_code == 200, response.text
    _assert_837p(response.text, claim)
    assert response.text.count("LX*") == 2


# --- roles -----------------------------------------------------------------------------------------------------


async def test_a_billing_clerk_reads_but_may_not_write(env):
    case, bill = await insured_invoice(env)
    claim = await submitted_claim(env, bill)
    clerk = await env.user(["billing_clerk"])

    for path in (CLAIMS, f"{CLAIMS}/{claim['id']}", f"{CLAIMS}/{claim['id']}/history", f"{CLAIMS}/{claim['id']}/x12"):
        assert (await env.client.get(path, headers=clerk)).status_code == 200, path
    assert (await env.client.get(DISPUTES, headers=clerk)).status_code == 200
    assert (await report(env, "2030-01-01", "2030-12-31", clerk)).status_code == 200

    assert_problem(await create(env, bill["id"], clerk), 403, "FORBIDDEN")
    for action, body in ACTIONS.items():
        assert_problem(await act(env, claim, action, body, headers=clerk), 403, "FORBIDDEN")
    assert_problem(
        await env.client.post(DISPUTES, json={"claim_id": claim["id"], "reason": "x"}, headers=clerk), 403, "FORBIDDEN"
    )
    assert_problem(
        await env.client.post(f"{DISPUTES}/{claim['id']}/resolve", json={"outcome": "upheld"}, headers=clerk),
        403,
        "FORBIDDEN",
    )
    assert_problem(await post_remittance(env, remittance(case.payer["code"]), clerk), 403, "FORBIDDEN")
    assert (await get_claim(env, claim["id"]))["status"] == "submitted"


@pytest.mark.parametrize("role", ["doctor", "receptionist", "patient"])
async def test_other_roles_may_not_even_read(env, role):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    headers = await env.user([role], patient_id=claim["patient_id"] if role == "patient" else None)

    for path in (
        CLAIMS,
        f"{CLAIMS}/{claim['id']}",
        f"{CLAIMS}/{claim['id']}/history",
        f"{CLAIMS}/{claim['id']}/x12",
        DISPUTES,
    ):
        assert_problem(await env.client.get(path, headers=headers), 403, "FORBIDDEN")
    assert_problem(await report(env, "2030-01-01", "2030-12-31", headers), 403, "FORBIDDEN")
    assert_problem(await create(env, bill["id"], headers), 403, "FORBIDDEN")


async def test_without_a_token_it_is_unauthenticated(env):
    for response in (
        await env.client.get(CLAIMS),
        await env.client.post(CLAIMS, json={}),
        await env.client.post(RECONCILE, json={}),
    ):
        assert_problem(response, 401, "UNAUTHENTICATED")


async def test_a_claims_officer_does_it_all(env):
    case, bill = await insured_invoice(env)
    officer = await claims_officer(env)
    claim = await submitted_claim(env, bill, officer)
    assert ok(await act(env, claim, "process", headers=officer))["status"] == "approved"
    posted = await post_remittance(env, remittance(case.payer["code"], (claim, "1344.00")), officer)
    assert posted.status_code == 201, posted.text
    assert (await invoice(env, bill["id"]))["insurance_paid"] == "1344.00"
