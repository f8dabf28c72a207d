"""The first start creates the facility from the CAREMESH_CLINIC_* settings (the clinic every installation had),
once: not again on a later start, not when it was renamed, and once when several processes start at once."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from caremesh.app import create_app
from caremesh.platform.settings import ClinicSettings
from tests.builders.facilities import FACILITIES
from tests.harness import MigratedDatabase, every_page, running_env, settings_for_tests

CLINIC = {
    "name": "SUNRISE CLINIC",
    "address_line": "12 ELM STREET",
    "city": "CHICAGO",
    "state": "IL",
    "postal_code": "606011234",
    "country": "US",
}


async def test_an_installation_starts_with_the_clinic_of_its_settings(env):
    [facility] = await every_page(env, FACILITIES)
    clinic = ClinicSettings()
    assert (facility["code"], facility["name"], facility["timezone"]) == ("MAIN", clinic.name, "UTC")
    assert facility["address"] == {
        "line1": clinic.address_line,
        "line2": None,
        "city": clinic.city,
        "state": clinic.state,
        "postal_code": clinic.postal_code,
        "country": clinic.country,
    }
    assert await env.outbox_types() == []  # the clinic it always had, not a facility that opened


async def test_the_first_facility_is_made_once_even_when_renamed(migrated_database: MigratedDatabase, tmp_path):
    db = await migrated_database.fresh(tmp_path)
    settings = settings_for_tests(db, tmp_path, clinic=CLINIC, timezone="America/Chicago")
    async with running_env(settings) as env:
        [facility] = await every_page(env, FACILITIES)
        assert (facility["code"], facility["name"], facility["timezone"]) == (
            "MAIN",
            "SUNRISE CLINIC",
            "America/Chicago",
        )
        assert (facility["address"]["line1"], facility["address"]["postal_code"]) == ("12 ELM STREET", "606011234")
        renamed = await env.client.patch(f"{FACILITIES}/{facility['id']}", json={"code": "HQ"}, headers=env.admin)
        assert renamed.status_code == 200, renamed.text

    other_clinic = settings_for_tests(db, tmp_path, clinic={**CLINIC, "name": "ANOTHER NAME"})
    async with running_env(other_clinic) as env:
        assert [(f["code"], f["name"]) for f in await every_page(env, FACILITIES)] == [("HQ", "SUNRISE CLINIC")]


async def test_processes_starting_at_once_make_one_facility(migrated_database: MigratedDatabase, tmp_path):
    db = await migrated_database.fresh(tmp_path)
    apps = [
        create_app(settings_for_tests(db, tmp_path, clinic=CLINIC), contexts=contexts)
        for contexts in (("identity", "facilities"), ("facilities", "practitioners"), ("facilities",)) * 2
    ]
    lifespans = [app.router.lifespan_context(app) for app in apps]
    async with AsyncExitStack() as stack:
        results = await asyncio.gather(*(lifespan.__aenter__() for lifespan in lifespans), return_exceptions=True)
        for lifespan, result in zip(lifespans, results, strict=True):
            if not isinstance(result, BaseException):
                stack.push_async_exit(lifespan)
        assert not [result for result in results if isinstance(result, BaseException)]

    settings = settings_for_tests(db, tmp_path)
    async with running_env(settings) as env:
        assert await env.count("facilities") == 1
        assert [f["name"] for f in await every_page(env, FACILITIES)] == ["SUNRISE CLINIC"]
