"""Claims carry the medical record: a visit's diagnoses (in the order recorded, without their dot, at most 12) in the
837P `HI` segment, its procedures as service lines; explicit codes are checked against the code set; a claim is
not submitted without a diagnosis (DIAGNOSIS_REQUIRED). Through the API."""

from __future__ import annotations

from tests.builders.claims import (
    CLAIMS,
    US_ADDRESS,
    act,
    create,
    diagnose,
    general_practitioner,
    get_claim,
    history,
    insured,
    make_claim,
    ok,
    pyx12_999,
    visit_invoice,
    x12_837,
)
from tests.builders.orders import invoices_of, place_order, prescription, stock_medication
from tests.builders.records import RECORDS, record_procedure
from tests.builders.scheduling import assert_problem, outbox_payloads

THIRTEEN = ("I10", "E11.9", "J45.909", "K21.9", "J06.9", "E78.5", "N39.0", "R51.9", "F41.1", "G43.909", "L70.0")
THIRTEEN += ("H10.9", "B34.9")


def segments(text: str, tag: str) -> list[str]:
    return [segment for segment in text.replace("\n", "").split("~") if segment.startswith(f"{tag}*")]


async def retract(env, record: dict) -> None:
    headers = {**env.admin, "If-Match": f'"{record["version"]}"'}
    response = await env.client.post(
        f"{RECORDS}/{record['id']}/retract", json={"reason": "wrong chart"}, headers=headers
    )
    assert response.status_code == 200, response.text


async def test_a_visit_claim_carries_its_diagnoses_and_procedures_into_an_837p_the_validator_accepts(env):
    case = await insured(env, address=US_ADDRESS, date_of_birth="1980-04-01")
    bill = await visit_invoice(env, case.patient, diagnoses=("I10", "E11.9"))
    wrong = await diagnose(env, bill, "K21.9")
    await diagnose(env, bill, "J45.909")
    await retract(env, wrong)
    procedure = await record_procedure(env, bill, "20610", quantity=2)  # before any payment: on the visit's invoice
    await env.drain()

    claim = await make_claim(env, bill)

    assert claim["diagnosis_codes"] == ["I10", "E119", "J45909"]  # as recorded, the retracted one left out
    assert [(line["code"], line["quantity"]) for line in claim["lines"]] == [("CONSULT-CARDIOLOGY", 1), ("20610", 2)]
    response = await x12_837(env, claim["id"])
    assert response.status_code == 200, response.text
    text = response.text
    valid, ack = pyx12_999(text)
    assert "AK9*A" in ack, ack
    assert valid, ack
    assert segments(text, "HI") == ["HI*ABK:I10*ABF:E119*ABF:J45909"]
    sv1 = segments(text, "SV1")
    assert [s.split("*")[1] for s in sv1] == ["HC:99213", "HC:20610"]  # the consultation's default, the procedure
    assert [s.split("*")[4] for s in sv1] == ["1", str(procedure["quantity"])]
    assert all(s.endswith("*1:2:3") for s in sv1)  # each line points at the diagnoses


async def test_a_claim_takes_at_most_twelve_diagnoses_in_the_order_recorded(env):
    case = await insured(env)
    bill = await visit_invoice(env, case.patient, diagnoses=THIRTEEN)

    claim = await make_claim(env, bill)

    assert claim["diagnosis_codes"] == [code.replace(".", "") for code in THIRTEEN[:12]]


async def test_explicit_diagnoses_win_and_are_checked_against_the_code_set(env):
    case = await insured(env)
    bill = await visit_invoice(env, case.patient)

    for codes in (["I10", "Z9999"], ["A00"], ["I10", "I10"]):  # unknown, not billable (has subdivisions), twice
        refused = await create(env, bill["id"], diagnosis_codes=codes)
        expected = "VALIDATION_ERROR" if codes == ["I10", "I10"] else "UNKNOWN_DIAGNOSIS_CODE"
        assert assert_problem(refused, 422, expected)["errors"], codes
    assert ok(await env.client.get(CLAIMS, headers=env.admin))["items"] == []

    claim = await make_claim(env, bill, diagnosis_codes=["J069", "E119"])
    assert claim["diagnosis_codes"] == ["J069", "E119"]


async def test_submitting_a_claim_without_a_diagnosis_is_refused_and_changes_nothing(env):
    case = await insured(env, diagnosed=False)
    bill = await visit_invoice(env, case.patient, diagnoses=())
    claim = await make_claim(env, bill)
    assert claim["diagnosis_codes"] == []

    refused = await act(env, claim, "submit")

    assert_problem(refused, 422, "DIAGNOSIS_REQUIRED")
    assert await get_claim(env, claim["id"]) == claim
    assert [entry["to_status"] for entry in await history(env, claim["id"])] == ["draft"]
    assert await outbox_payloads(env, "claim.submitted") == []

    # The doctor records it afterwards: the draft takes it as it is submitted.
    await diagnose(env, bill, "J06.9")
    submitted = ok(await act(env, claim, "submit"))
    assert (submitted["status"], submitted["diagnosis_codes"]) == ("submitted", ["J069"])


async def test_an_order_claim_takes_the_patients_active_diagnoses(env):
    case = await insured(env, benefit={"category": "pharmacy", "coverage_percent": "70.00"}, diagnosed=False)
    practitioner = await general_practitioner(env)
    medication = await stock_medication(env, unit_price="10.00")
    placed = await place_order(env, prescription(case.patient, practitioner, (medication, 2)))
    await env.drain()
    [bill] = await invoices_of(env, placed["id"])
    for code, status in (("E11.9", "active"), ("J06.9", "resolved"), ("I10", "active")):
        env.clock.advance(seconds=1)  # recorded one after the other
        response = await env.client.post(
            RECORDS,
            json={"patient_id": case.patient["id"], "type": "diagnosis", "code": code, "clinical_status": status},
            headers=env.admin,
        )
        assert response.status_code == 201, response.text

    claim = await make_claim(env, bill)

    assert claim["diagnosis_codes"] == ["E119", "I10"]
