"""Correcting a draft claim (PATCH: diagnoses, lines within the invoice) and withdrawing a claim the payer has not
decided (a draft or submitted): history, event, and the invoice free to be claimed again."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders.claims import (
    CLAIMS,
    accumulators,
    act,
    approved_claim,
    claims_officer,
    create,
    d,
    general_practitioner,
    get_claim,
    history,
    insured,
    insured_invoice,
    make_claim,
    ok,
    rejected_claim,
    submitted_claim,
    x12_837,
)
from tests.builders.orders import invoices_of, place_order, prescription, stock_medication
from tests.harness import assert_problem, outbox_payloads


async def patch(env, claim, body, headers=None, version=None):
    etag = f'"{claim["version"] if version is None else version}"'
    return await env.client.patch(
        f"{CLAIMS}/{claim['id']}", json=body, headers={**(headers or env.admin), "If-Match": etag}
    )


async def withdraw(env, claim, headers=None, **body):
    return await env.client.post(f"{CLAIMS}/{claim['id']}/withdraw", json=body or None, headers=headers or env.admin)


async def order_claim(env):
    """A draft for a three-line pharmacy invoice: 10.01 x1, 33.33 x2, 0.99 x7, 70 % insured."""
    case = await insured(env, benefit={"category": "pharmacy", "coverage_percent": "70.00"})
    practitioner = await general_practitioner(env)
    meds = [await stock_medication(env, unit_price=price) for price in ("10.01", "33.33", "0.99")]
    placed = await place_order(env, prescription(case.patient, practitioner, (meds[0], 1), (meds[1], 2), (meds[2], 7)))
    await env.drain()
    [bill] = await invoices_of(env, placed["id"])
    return case, bill, await make_claim(env, bill)


# --- diagnoses ------------------------------------------------------------------------------------------------


async def test_a_drafts_diagnoses_are_replaced_in_the_order_given(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    officer = await claims_officer(env)

    response = await patch(env, claim, {"diagnosis_codes": [" E119", "I10", "J069"]}, officer)

    edited = ok(response)
    assert edited["diagnosis_codes"] == ["E119", "I10", "J069"]
    assert edited["version"] == claim["version"] + 1
    assert response.headers["etag"] == f'"{edited["version"]}"'
    assert (edited["claimed_amount"], edited["lines"]) == (claim["claimed_amount"], claim["lines"])
    assert await get_claim(env, claim["id"]) == edited
    last = (await history(env, claim["id"]))[-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("edited", "draft", "draft")
    assert last["note"] == "diagnoses I10 -> E119, I10, J069"


@pytest.mark.parametrize(
    ("codes", "status", "code"),
    [
        (["I10", "Z99999"], 422, "UNKNOWN_DIAGNOSIS_CODE"),  # well formed, not in the code set
        (["I10", "I10"], 422, "VALIDATION_ERROR"),
        ([], 422, "VALIDATION_ERROR"),
        (["not a code"], 422, "VALIDATION_ERROR"),
    ],
)
async def test_bad_diagnoses_change_nothing(env, codes, status, code):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)

    assert_problem(await patch(env, claim, {"diagnosis_codes": codes}), status, code)

    assert await get_claim(env, claim["id"]) == claim


async def test_an_edit_needs_the_current_version(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    ok(await patch(env, claim, {"diagnosis_codes": ["E119"]}))

    stale = await patch(env, claim, {"diagnosis_codes": ["J069"]})

    assert_problem(stale, 412, "VERSION_CONFLICT")
    assert (await get_claim(env, claim["id"]))["diagnosis_codes"] == ["E119"]


async def test_of_two_concurrent_edits_of_one_version_one_wins(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    await env.warm_pool()

    answers = await asyncio.gather(
        patch(env, claim, {"diagnosis_codes": ["E119"]}), patch(env, claim, {"diagnosis_codes": ["J069"]})
    )

    assert sorted(r.status_code for r in answers) == [200, 412]
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert (await get_claim(env, claim["id"]))["diagnosis_codes"] == winner["diagnosis_codes"]
    assert [h["action"] for h in await history(env, claim["id"])].count("edited") == 1


# --- lines ----------------------------------------------------------------------------------------------------


async def test_lines_are_dropped_and_lowered_within_the_invoice_and_the_totals_follow(env):
    _, bill, claim = await order_claim(env)
    first, second, _third = claim["lines"]

    response = await patch(
        env,
        claim,
        {"lines": [{"position": 1, "claimed_amount": "5.00"}, {"position": 2, "quantity": 1}]},
    )

    edited = ok(response)
    lines = edited["lines"]
    assert [(line["position"], line["quantity"]) for line in lines] == [(1, 1), (2, 1)]
    assert (lines[0]["charge_amount"], lines[0]["claimed_amount"]) == (first["charge_amount"], "5.00")
    # Half the quantity: half the line's charge and of what may be claimed for it (HALF_UP to the cent).
    assert d(lines[1]["charge_amount"]) == (d(second["charge_amount"]) / 2).quantize(d("0.01"))
    assert d(lines[1]["claimed_amount"]) == (d(second["claimed_amount"]) / 2).quantize(d("0.01"))
    assert d(edited["total_charge"]) == sum(d(line["charge_amount"]) for line in lines)
    assert d(edited["claimed_amount"]) == sum(d(line["claimed_amount"]) for line in lines)
    assert d(edited["claimed_amount"]) < d(bill["insurance_amount"])
    assert "lines 1, 2" in (await history(env, claim["id"]))[-1]["note"]

    # Named again, a dropped line comes back as the invoice gives it.
    restored = ok(await patch(env, edited, {"lines": [{"position": n} for n in (1, 2, 3)]}))
    assert restored["lines"] == claim["lines"]
    assert (restored["total_charge"], restored["claimed_amount"]) == (claim["total_charge"], claim["claimed_amount"])


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        ([{"position": 2, "quantity": 3}], "lines.0.quantity"),  # the invoice has 2
        ([{"position": 1, "claimed_amount": "9999.00"}], "lines.0.claimed_amount"),
        ([{"position": 4}], "lines.0.position"),
        ([{"position": 1}, {"position": 1}], "lines.1.position"),
        ([{"position": 1, "claimed_amount": "0.00"}], "lines"),  # the claim would ask for nothing
    ],
    ids=["quantity-above-invoice", "amount-above-share", "no-such-line", "named-twice", "nothing-claimed"],
)
async def test_a_line_is_never_raised_above_its_invoice_line(env, lines, where):
    _, _, claim = await order_claim(env)

    body = assert_problem(await patch(env, claim, {"lines": lines}), 422, "VALIDATION_ERROR")

    assert body["errors"][0]["loc"] == where.split(".")
    assert await get_claim(env, claim["id"]) == claim


async def test_the_837p_of_an_edited_claim_carries_its_lines(env):
    _, _, claim = await order_claim(env)
    edited = ok(await patch(env, claim, {"lines": [{"position": 1}, {"position": 3}]}))
    ok(await act(env, edited, "submit"))

    document = (await x12_837(env, claim["id"])).text

    assert document.count("LX*") == 2
    assert f"CLM*{claim['number']}*{edited['total_charge']}" in document


@pytest.mark.parametrize("maker", [submitted_claim, approved_claim, rejected_claim])
async def test_only_a_draft_is_edited(env, maker):
    _, bill = await insured_invoice(env)
    claim = await maker(env, bill)

    response = await patch(env, claim, {"diagnosis_codes": ["E119"]})

    assert_problem(response, 409, "INVALID_STATUS_TRANSITION")
    assert await get_claim(env, claim["id"]) == claim


# --- withdrawal -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("maker", [make_claim, submitted_claim], ids=["draft", "submitted"])
async def test_a_claim_not_yet_decided_is_withdrawn_and_its_invoice_claimed_again(env, maker):
    case, bill = await insured_invoice(env)
    claim = await maker(env, bill)
    before = await accumulators(env, case, bill["service_date"])
    officer = await claims_officer(env)

    withdrawn = ok(await withdraw(env, claim, officer, reason="Billed to the wrong payer"))

    assert (withdrawn["status"], withdrawn["withdrawn_at"]) == ("withdrawn", withdrawn["updated_at"])
    last = (await history(env, claim["id"]))[-1]
    assert (last["action"], last["from_status"], last["to_status"], last["note"]) == (
        "withdrawn",
        claim["status"],
        "withdrawn",
        "Billed to the wrong payer",
    )
    [event] = await outbox_payloads(env, "claim.withdrawn")
    assert (event["claim_id"], event["number"], event["invoice_id"], event["previous_status"]) == (
        claim["id"],
        claim["number"],
        bill["id"],
        claim["status"],
    )
    assert event["reason"] == "Billed to the wrong payer"
    assert await accumulators(env, case, bill["service_date"]) == before  # nothing had moved, nothing to undo
    # A new claim for the invoice, submitted at once: the withdrawn one is neither open nor a duplicate.
    again = await submitted_claim(env, bill)
    assert (again["status"], again["invoice_id"]) == ("submitted", bill["id"])


async def test_withdrawing_needs_no_body(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)

    withdrawn = ok(await env.client.post(f"{CLAIMS}/{claim['id']}/withdraw", headers=env.admin))

    assert withdrawn["status"] == "withdrawn"
    assert (await history(env, claim["id"]))[-1]["note"] is None


@pytest.mark.parametrize("maker", [approved_claim, rejected_claim])
async def test_a_decided_claim_is_not_withdrawn(env, maker):
    _, bill = await insured_invoice(env)
    claim = await maker(env, bill)

    assert_problem(await withdraw(env, claim), 409, "INVALID_STATUS_TRANSITION")

    assert await get_claim(env, claim["id"]) == claim
    assert await outbox_payloads(env, "claim.withdrawn") == []


async def test_a_withdrawn_claim_is_final(env):
    _, bill = await insured_invoice(env)
    claim = ok(await withdraw(env, await make_claim(env, bill)))

    for response in (
        await withdraw(env, claim),
        await act(env, claim, "submit"),
        await patch(env, claim, {"diagnosis_codes": ["E119"]}),
    ):
        assert_problem(response, 409, "INVALID_STATUS_TRANSITION")
    assert await get_claim(env, claim["id"]) == claim


async def test_after_a_withdrawal_one_new_claim_of_many_concurrent_is_created(env):
    """The database keeps one open claim per invoice, withdrawn claims not counted."""
    _, bill = await insured_invoice(env)
    ok(await withdraw(env, await make_claim(env, bill)))
    await env.warm_pool()

    answers = await asyncio.gather(*(create(env, bill["id"]) for _ in range(6)))

    assert sorted(r.status_code for r in answers) == [201] + [409] * 5
    for refused in (r for r in answers if r.status_code == 409):
        assert_problem(refused, 409, "CLAIM_EXISTS")
    assert await env.count("claims", "status = 'draft'") == 1


async def test_a_withdrawal_races_a_submission_and_one_of_them_wins(env):
    _, bill = await insured_invoice(env)
    claim = await make_claim(env, bill)
    await env.warm_pool()

    submit, take_back = await asyncio.gather(act(env, claim, "submit"), withdraw(env, claim))

    # Withdrawn first (the submission then refused), or after it: withdrawn either way.
    assert take_back.status_code == 200, take_back.text
    assert (await get_claim(env, claim["id"]))["status"] == "withdrawn"
    expected = ["created", "submitted", "withdrawn"] if submit.status_code == 200 else ["created", "withdrawn"]
    assert submit.status_code in (200, 409)
    assert [h["action"] for h in await history(env, claim["id"])] == expected
