"""Tariffs: the defaults created on first start, create, read, list, change with If-Match, validation."""

from __future__ import annotations

import pytest

from caremesh.billing import tariffs
from tests.billing.helpers import billing_snapshot
from tests.builders.billing import TARIFFS, bands, make_tariff, tariff_body
from tests.builders.scheduling import assert_problem

GAPPY = {
    "type": "experience_bands",
    "bands": [
        {"min_years": 0, "max_years": 19, "amount": "1.00"},
        {"min_years": 21, "max_years": None, "amount": "2.00"},
    ],
}
DEFAULT_CODES = ["CONSULT-CARDIOLOGY", "CONSULT-GENERAL", "CONSULT-ORTHOPEDICS", "ORDER-LAB", "ORDER-MEDICATION"]


async def get(env, code, headers=None):
    return await env.client.get(f"{TARIFFS}/{code}", headers=headers or env.admin)


async def patch(env, code, body, headers=None):
    return await env.client.patch(f"{TARIFFS}/{code}", json=body, headers=headers or env.admin)


# --- defaults ----------------------------------------------------------------------------


async def test_the_default_tariffs_exist_after_the_first_start(env):
    response = await env.client.get(TARIFFS, headers=env.admin)
    assert response.status_code == 200, response.text
    items = {t["code"]: t for t in response.json()["items"]}
    assert sorted(items) == DEFAULT_CODES
    assert items["CONSULT-ORTHOPEDICS"]["specialty"] == "orthopedics"
    assert items["CONSULT-ORTHOPEDICS"]["pricing"] == bands("800.00", "1000.00", "1500.00")
    assert items["CONSULT-CARDIOLOGY"]["pricing"] == bands("1000.00", "1500.00", "2000.00")
    general = items["CONSULT-GENERAL"]
    assert general["pricing"] == {"type": "hourly", "rate": "200.00", "round_up_after_minutes": 10}
    assert (general["specialty"], general["kind"], general["tax_rate"], general["effective_tax_rate"]) == (
        None,
        "consultation",
        None,
        "0.12",
    )
    for code, kind in (("ORDER-MEDICATION", "medication"), ("ORDER-LAB", "lab")):
        order_tariff = items[code]
        assert (order_tariff["kind"], order_tariff["pricing"], order_tariff["tax_rate"]) == (
            kind,
            {"type": "flat", "amount": "0.00"},
            None,
        )


async def test_a_restart_adds_missing_defaults_and_keeps_edited_ones(env):
    assert (await patch(env, "CONSULT-CARDIOLOGY", {"pricing": bands("1.00", "2.00", "3.00")})).status_code == 200
    async with env.uow() as uow:
        await uow.session.delete(await uow.session.get(tariffs.Tariff, "CONSULT-GENERAL"))
    async with env.uow() as uow:
        await tariffs.bootstrap(uow)
    assert (await get(env, "CONSULT-CARDIOLOGY")).json()["pricing"] == bands("1.00", "2.00", "3.00")
    assert (await get(env, "CONSULT-GENERAL")).json()["version"] == 1


async def test_a_restart_skips_a_default_whose_specialty_another_tariff_took(env):
    async with env.uow() as uow:
        for code in ("CONSULT-CARDIOLOGY", "CONSULT-GENERAL"):
            await uow.session.delete(await uow.session.get(tariffs.Tariff, code))
    heart = await make_tariff(env, code="HEART", kind="consultation", specialty="cardiology")

    async with env.uow() as uow:
        await tariffs.bootstrap(uow)

    assert_problem(await get(env, "CONSULT-CARDIOLOGY"), 404, "TARIFF_NOT_FOUND")
    assert (await get(env, "HEART")).json() == heart
    assert (await get(env, "CONSULT-GENERAL")).json()["version"] == 1


# --- create and read ---------------------------------------------------------------------


async def test_create_and_read_a_tariff(env):
    body = tariff_body(code="lab-cbc", tax_rate="0.05", pricing={"type": "flat", "amount": 350})
    response = await env.client.post(TARIFFS, json=body, headers=env.admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == "/api/v1/tariffs/LAB-CBC"
    assert response.headers["ETag"] == '"1"'
    assert (created["code"], created["kind"], created["specialty"]) == ("LAB-CBC", "lab", None)
    assert created["pricing"] == {"type": "flat", "amount": "350.00"}
    assert (created["tax_rate"], created["effective_tax_rate"], created["version"]) == ("0.05", "0.05", 1)
    assert (await get(env, "LAB-CBC")).json() == created
    assert (await get(env, "lab-cbc")).json() == created  # codes are case-insensitive
    assert await env.count("audit_events", "action = 'tariff.create' AND entity_id = 'LAB-CBC'") == 1


async def test_list_filters_and_pages_in_order_of_code(env):
    for code in ("LAB-B", "LAB-A", "PROC-A"):
        await make_tariff(env, code=code, kind="procedure" if code.startswith("PROC") else "lab")

    async def codes(**params):
        response = await env.client.get(TARIFFS, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [t["code"] for t in response.json()["items"]], response.json()["next_cursor"]

    assert (await codes(kind="lab"))[0] == ["LAB-A", "LAB-B", "ORDER-LAB"]
    assert (await codes(specialty="cardiology"))[0] == ["CONSULT-CARDIOLOGY"]
    first, cursor = await codes(limit=5)
    rest, end = await codes(limit=5, cursor=cursor)
    assert (first + rest, end) == (sorted([*DEFAULT_CODES, "LAB-A", "LAB-B", "PROC-A"]), None)


async def test_an_unknown_tariff_is_404(env):
    assert_problem(await get(env, "NOPE"), 404, "TARIFF_NOT_FOUND")
    assert_problem(await patch(env, "NOPE", {"description": "x"}), 404, "TARIFF_NOT_FOUND")


async def test_a_code_is_taken_once(env):
    await make_tariff(env, code="LAB-1")
    before = await billing_snapshot(env)
    response = await env.client.post(TARIFFS, json=tariff_body(code="lab-1"), headers=env.admin)
    assert_problem(response, 409, "TARIFF_EXISTS")
    assert await billing_snapshot(env) == before


async def test_one_consultation_tariff_per_specialty(env):
    body = tariff_body(code="CONSULT-CARDIO-2", kind="consultation", specialty="cardiology")
    before = await billing_snapshot(env)
    assert_problem(await env.client.post(TARIFFS, json=body, headers=env.admin), 409, "CONSULTATION_TARIFF_EXISTS")
    assert await billing_snapshot(env) == before
    # Other kinds may name the specialty; a consultation may move to a free one only.
    await make_tariff(env, code="LAB-ECG", kind="lab", specialty="cardiology")
    assert_problem(
        await patch(env, "CONSULT-ORTHOPEDICS", {"specialty": "cardiology"}), 409, "CONSULTATION_TARIFF_EXISTS"
    )
    assert (await patch(env, "CONSULT-ORTHOPEDICS", {"specialty": "neurology"})).json()["specialty"] == "neurology"


async def test_the_database_keeps_one_consultation_tariff_per_specialty(env, monkeypatch):
    async def sees_nothing(*_args):
        return None

    monkeypatch.setattr(tariffs, "_check_specialty_free", sees_nothing)
    body = tariff_body(code="CONSULT-CARDIO-2", kind="consultation", specialty="cardiology")
    assert_problem(await env.client.post(TARIFFS, json=body, headers=env.admin), 409, "CONSULTATION_TARIFF_EXISTS")
    assert await env.count("tariffs", "specialty = 'cardiology'") == 1


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"code": ""},
        {"code": "has space"},
        {"code": "X" * 41},
        {"description": " "},
        {"kind": "surgery"},
        {"pricing": {"type": "flat"}},
        {"pricing": {"type": "flat", "amount": "-1.00"}},
        {"pricing": {"type": "flat", "amount": "1.001"}},
        {"pricing": {"type": "flat", "amount": "NaN"}},
        {"pricing": {"type": "flat", "amount": "100000000.00"}},
        {"pricing": {"type": "monthly", "amount": "1.00"}},
        {"pricing": {"type": "hourly", "rate": "200.00", "round_up_after_minutes": 60}},
        {"pricing": {"type": "hourly", "rate": "200.00"}},
        {"pricing": {"type": "experience_bands", "bands": []}},
        {"pricing": GAPPY},
        {"pricing": {"type": "experience_bands", "bands": [{"min_years": 1, "max_years": None, "amount": "1.00"}]}},
        {"pricing": {"type": "experience_bands", "bands": [{"min_years": 0, "max_years": 5, "amount": "1.00"}]}},
        {
            "pricing": {
                "type": "experience_bands",
                "bands": [
                    {"min_years": 0, "max_years": 10, "amount": "1.00"},
                    {"min_years": 5, "max_years": None, "amount": "2.00"},
                ],
            }
        },
        {"tax_rate": "1.5"},
        {"tax_rate": "-0.1"},
        {"tax_rate": "0.12345"},
        {"surprise": True},
    ],
)
async def test_invalid_tariffs_are_422_and_change_nothing(env, overrides):
    before = await billing_snapshot(env)
    response = await env.client.post(TARIFFS, json=tariff_body(**overrides), headers=env.admin)
    body = assert_problem(response, 422, "VALIDATION_ERROR")
    assert body["errors"]
    assert await billing_snapshot(env) == before


async def test_band_problems_are_explained(env):
    response = await env.client.post(TARIFFS, json=tariff_body(pricing=GAPPY), headers=env.admin)
    assert "without gap or overlap" in assert_problem(response, 422, "VALIDATION_ERROR")["detail"]


# --- change --------------------------------------------------------------------------------


async def test_patch_changes_what_it_names_and_bumps_the_version(env):
    response = await patch(
        env, "CONSULT-GENERAL", {"pricing": {"type": "hourly", "rate": "250", "round_up_after_minutes": 15}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pricing"] == {"type": "hourly", "rate": "250.00", "round_up_after_minutes": 15}
    assert (body["version"], response.headers["ETag"], body["description"]) == (2, '"2"', body["description"])
    assert await env.count("audit_events", "action = 'tariff.update'") == 1

    body = (await patch(env, "CONSULT-GENERAL", {"tax_rate": "0.05", "description": "GP"})).json()
    assert (body["tax_rate"], body["effective_tax_rate"], body["description"], body["version"]) == (
        "0.05",
        "0.05",
        "GP",
        3,
    )
    body = (await patch(env, "CONSULT-GENERAL", {"tax_rate": None})).json()  # back to the default
    assert (body["tax_rate"], body["effective_tax_rate"]) == (None, "0.12")


async def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(env):
    current = await get(env, "CONSULT-CARDIOLOGY")
    etag = current.headers["ETag"]
    assert (
        await patch(env, "CONSULT-CARDIOLOGY", {"description": "A"}, {**env.admin, "If-Match": etag})
    ).status_code == 200
    before = await billing_snapshot(env)
    stale = await patch(env, "CONSULT-CARDIOLOGY", {"description": "B"}, {**env.admin, "If-Match": etag})
    assert_problem(stale, 412, "VERSION_CONFLICT")
    assert await billing_snapshot(env) == before
    assert (await get(env, "CONSULT-CARDIOLOGY")).json()["description"] == "A"


@pytest.mark.parametrize(
    "body",
    [
        {"description": None},
        {"pricing": None},
        {"kind": "lab"},
        {"code": "NEW"},
        {"pricing": {"type": "flat", "amount": "x"}},
    ],
)
async def test_patch_refuses_clearing_required_fields_and_changing_identity(env, body):
    before = await billing_snapshot(env)
    assert_problem(await patch(env, "CONSULT-CARDIOLOGY", body), 422, "VALIDATION_ERROR")
    assert await billing_snapshot(env) == before
