"""Benefit changes are dated (issue 16): a change applies to service dates on or after its `effective_from`, earlier
ones keep the terms in force then, for verification and for claims' adjudication alike; the history is kept, a
change for a date that has terms corrects them; and a change of deductible or limit never breaks the accumulators
already recorded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

from caremesh.insurance import contract as insurance
from tests.builders.insurance import SCHEMES, add_benefit, make_coverage, make_scheme, patch, verify
from tests.builders.patients import make_patient
from tests.harness import assert_problem, every_page


async def _covered(env, **benefit):
    patient = await make_patient(env)
    scheme = await make_scheme(env)
    created = await add_benefit(env, scheme, **benefit)
    coverage = await make_coverage(env, patient=patient, scheme=scheme)
    return patient, scheme, created, coverage, f"{SCHEMES}/{scheme['id']}/benefits/{created['id']}"


async def _adjudicate(env, coverage, service_date: str, charge: str) -> insurance.LinesDecision:
    async with env.uow() as uow:
        return await insurance.adjudicate_lines(
            uow,
            uuid.UUID(coverage["id"]),
            "consultation",
            date.fromisoformat(service_date),
            [Decimal(charge)],
            [Decimal(charge)],
        )


async def test_a_change_applies_from_its_date_and_earlier_services_keep_the_old_terms(env):
    patient, _, created, coverage, url = await _covered(env, coverage_percent="80.00")
    assert (created["effective_from"], created["version"]) == ("2030-01-07", 1)  # today at the clinic

    changed = await patch(
        env, url, {"effective_from": "2030-03-01", "coverage_percent": "50.00", "copay_amount": "10.00"}, version=1
    )
    assert changed.status_code == 200, changed.text
    # Today (2030-01-07) the old terms are still in force: the answer shows them, with a new version.
    assert (changed.json()["coverage_percent"], changed.json()["effective_from"]) == ("80.00", "2030-01-07")
    assert (changed.json()["version"], changed.headers["ETag"]) == (2, '"2"')

    before = await verify(env, patient, "100.00", service_date="2030-02-28")
    after = await verify(env, patient, "100.00", service_date="2030-03-01")
    assert (before["payer_amount"], before["copay_applied"]) == ("80.00", "0.00")
    assert (after["payer_amount"], after["copay_applied"]) == ("45.00", "10.00")

    old, new = (
        await _adjudicate(env, coverage, "2030-02-28", "100.00"),
        await _adjudicate(env, coverage, "2030-03-01", "100.00"),
    )
    assert (old.payer_amount, new.payer_amount) == (Decimal("80.00"), Decimal("45.00"))
    assert new.lines[0].copay_applied == Decimal("10.00")

    history = await every_page(env, f"{url}/history")
    assert [(h["effective_from"], h["coverage_percent"], h["copay_amount"]) for h in history] == [
        ("2030-01-07", "80.00", "0.00"),
        ("2030-03-01", "50.00", "10.00"),
    ]
    assert history[1]["recorded_by"] is not None
    assert history[1]["currency"] == "INR"


async def test_the_first_terms_also_govern_earlier_service_dates(env):
    patient, *_ = await _covered(env, coverage_percent="70.00")
    # The benefit was created on 2030-01-07; the coverage runs from 2030-01-01.
    assert (await verify(env, patient, "100.00", service_date="2030-01-02"))["payer_amount"] == "70.00"


async def test_a_change_for_a_date_with_terms_corrects_them_and_keeps_what_it_does_not_send(env):
    patient, _, _, _, url = await _covered(env, coverage_percent="80.00", copay_amount="5.00")
    first = await patch(env, url, {"effective_from": "2030-06-01", "coverage_percent": "60.00"}, version=1)
    assert first.status_code == 200, first.text
    corrected = await patch(env, url, {"effective_from": "2030-06-01", "copay_amount": "0.00"}, version=2)
    assert corrected.status_code == 200, corrected.text

    history = await every_page(env, f"{url}/history")
    assert [(h["effective_from"], h["coverage_percent"], h["copay_amount"]) for h in history] == [
        ("2030-01-07", "80.00", "5.00"),
        ("2030-06-01", "60.00", "0.00"),
    ]
    assert (await verify(env, patient, "100.00", service_date="2030-06-02"))["payer_amount"] == "60.00"
    # A change that changes nothing records nothing and keeps the version.
    same = await patch(env, url, {"effective_from": "2030-06-01", "coverage_percent": "60.00"}, version=3)
    assert (same.status_code, same.json()["version"]) == (200, 3)
    assert len(await every_page(env, f"{url}/history")) == 2


async def test_a_change_without_a_date_applies_from_today(env):
    *_, url = await _covered(env, coverage_percent="80.00", annual_limit="1000.00")
    changed = await patch(env, url, {"annual_limit": None, "requires_preauth": True}, version=1)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["effective_from"], body["annual_limit"], body["requires_preauth"]) == ("2030-01-07", None, True)
    assert (await env.client.get(url, headers=env.admin)).json() == body
    assert len(await every_page(env, f"{url}/history")) == 1  # today's terms corrected in place


async def test_bad_changes_are_refused_and_change_nothing(env):
    _, scheme, created, _, url = await _covered(env)
    assert_problem(await patch(env, url, {"category": "lab"}, version=1), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"coverage_percent": "100.01"}, version=1), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"deductible": None}, version=1), 422, "VALIDATION_ERROR")
    assert_problem(await patch(env, url, {"copay_amount": "1.00"}, version=9), 412, "VERSION_CONFLICT")
    other = await make_scheme(env)
    elsewhere = f"{SCHEMES}/{other['id']}/benefits/{created['id']}"
    assert_problem(await patch(env, elsewhere, {"copay_amount": "1.00"}, version=1), 404, "BENEFIT_NOT_FOUND")
    assert_problem(await env.client.get(elsewhere, headers=env.admin), 404, "BENEFIT_NOT_FOUND")
    assert_problem(await env.client.get(f"{elsewhere}/history", headers=env.admin), 404, "BENEFIT_NOT_FOUND")
    read = await env.client.get(url, headers=env.admin)
    assert read.json() == created
    listed = (await env.client.get(f"{SCHEMES}/{scheme['id']}/benefits", headers=env.admin)).json()["items"]
    assert listed == [read.json()]


async def test_two_changes_of_one_version_at_once_one_wins(env):
    await env.warm_pool()
    _, _, _, _, url = await _covered(env)
    responses = await asyncio.gather(*(patch(env, url, {"copay_amount": f"{n}.00"}, version=1) for n in range(1, 5)))
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412]
    assert len(await every_page(env, f"{url}/history")) == 1


async def test_a_lower_deductible_or_limit_keeps_the_accumulators_whole(env):
    patient, _, _, coverage, url = await _covered(
        env, coverage_percent="100.00", deductible="100.00", annual_limit="500.00"
    )
    coverage_id = uuid.UUID(coverage["id"])
    async with env.uow() as uow:  # a claim approved in February: the whole deductible and 400 of the limit
        await insurance.record_approved_claim(
            uow, coverage_id, "consultation", date(2030, 2, 1), Decimal("100.00"), Decimal("400.00")
        )
    lowered = await patch(
        env, url, {"effective_from": "2030-03-01", "deductible": "50.00", "annual_limit": "300.00"}, version=1
    )
    assert lowered.status_code == 200, lowered.text

    march = await verify(env, patient, "100.00", service_date="2030-03-10")
    assert (march["eligible"], march["reasons"]) == (False, ["ANNUAL_LIMIT_EXHAUSTED"])
    february = await verify(env, patient, "50.00", service_date="2030-02-10")
    assert (february["deductible_applied"], february["payer_amount"]) == ("0.00", "50.00")
    async with env.uow() as uow:  # a later claim of the old terms' dates still records within them
        await insurance.record_approved_claim(
            uow, coverage_id, "consultation", date(2030, 2, 10), Decimal("0.00"), Decimal("50.00")
        )

    raised = await patch(
        env, url, {"effective_from": "2030-04-01", "deductible": "150.00", "annual_limit": "1000.00"}, version=2
    )
    assert raised.status_code == 200, raised.text
    april = await verify(env, patient, "100.00", service_date="2030-04-02")
    assert (april["deductible_applied"], april["payer_amount"], april["remaining_annual_limit"]) == (
        "50.00",
        "50.00",
        "550.00",
    )
    async with env.uow() as uow:
        await insurance.record_approved_claim(
            uow, coverage_id, "consultation", date(2030, 4, 2), Decimal("50.00"), Decimal("50.00")
        )
    async with env.uow() as uow:  # more deductible than April's terms leave is still refused
        try:
            await insurance.record_approved_claim(
                uow, coverage_id, "consultation", date(2030, 4, 3), Decimal("0.01"), Decimal("0.00")
            )
        except insurance.DeductibleExceeded:
            pass
        else:
            raise AssertionError("a deductible beyond the terms was recorded")
    after = await verify(env, patient, "100.00", service_date="2030-04-05")
    assert (after["deductible_applied"], after["remaining_annual_limit"]) == ("0.00", "500.00")
