"""What billing and claims use: coverage_percent, verify, payer_for, find_coverage."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from caremesh.insurance import contract
from tests.builders.insurance import SCHEMES, add_benefit, insured_patient, make_coverage, make_payer, make_scheme
from tests.builders.patients import make_patient

ON = date(2030, 1, 7)


async def test_coverage_percent_of_the_coverage_that_applies(env):
    insured, scheme, _coverage = await insured_patient(env, coverage_percent="85.50")
    uninsured = await make_patient(env)
    expired = await make_patient(env)
    await make_coverage(env, patient=expired, scheme=scheme, valid_to="2030-01-06")

    async with env.uow() as uow:
        session = uow.session
        assert await contract.coverage_percent(session, uuid.UUID(insured["id"]), "consultation", ON) == Decimal(
            "85.50"
        )
        assert await contract.coverage_percent(session, uuid.UUID(insured["id"]), "lab", ON) == Decimal("0")
        assert await contract.coverage_percent(session, uuid.UUID(expired["id"]), "consultation", ON) == Decimal("0")
        assert await contract.coverage_percent(session, uuid.UUID(uninsured["id"]), "consultation", ON) is None

    await env.client.post(f"{SCHEMES}/{scheme['id']}/suspend", headers=env.admin)
    async with env.uow() as uow:
        assert await contract.coverage_percent(uow.session, uuid.UUID(insured["id"]), "consultation", ON) == 0


async def test_verify_through_the_contract_matches_the_api(env):
    patient, _, coverage = await insured_patient(env, coverage_percent="80", copay_amount="25", requires_preauth=True)

    async with env.uow() as uow:
        result = await contract.verify(uow.session, uuid.UUID(patient["id"]), "consultation", Decimal("125.00"), ON)

    assert result == contract.Verification(
        eligible=False,
        coverage_id=uuid.UUID(coverage["id"]),
        payer_amount=Decimal("0.00"),
        patient_amount=Decimal("125.00"),
        deductible_applied=Decimal("0.00"),
        remaining_annual_limit=None,
        reasons=("PREAUTH_REQUIRED",),
        copay_applied=Decimal("0.00"),
        requires_preauth=True,
    )


async def test_payer_for_a_patients_bin_and_pcn(env):
    exact = await make_payer(env, bin="610014", pcn="ABC123")
    bare = await make_payer(env, bin="610014")
    only = await make_payer(env, bin="777777", pcn="ONLY")

    async with env.uow() as uow:
        s = uow.session
        assert (await contract.payer_for(s, "610014", "ABC123")).id == uuid.UUID(exact["id"])
        assert (await contract.payer_for(s, "610014", "OTHER")).id == uuid.UUID(bare["id"])
        assert (await contract.payer_for(s, "610014", None)).id == uuid.UUID(bare["id"])
        assert (await contract.payer_for(s, "777777", "ELSE")) == contract.PayerSummary(
            id=uuid.UUID(only["id"]), code=only["code"], name=only["name"], bin="777777", pcn="ONLY"
        )
        assert await contract.payer_for(s, "123456", "ABC123") is None
        assert await contract.payer_for(s, None, None) is None


async def test_find_coverage(env):
    scheme = await make_scheme(env)
    await add_benefit(env, scheme)
    coverage = await make_coverage(env, scheme=scheme, member_id="FIND-1")

    async with env.uow() as uow:
        found = await contract.find_coverage(uow.session, uuid.UUID(coverage["id"]))
        missing = await contract.find_coverage(uow.session, uuid.uuid4())

    assert missing is None
    assert (found.scheme_id, found.payer_id, found.member_id, found.status) == (
        uuid.UUID(scheme["id"]),
        uuid.UUID(scheme["payer_id"]),
        "FIND-1",
        "active",
    )
