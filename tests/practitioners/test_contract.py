"""What other contexts read of practitioners through its contract."""

from __future__ import annotations

import uuid
from datetime import date, time

from caremesh.practitioners import contract
from tests.builders.practitioners import make_practitioner


async def test_find_practitioner_gives_a_summary_with_working_hours(env):
    hours = [{"weekday": 2, "start": "13:00", "end": "17:00"}, {"weekday": 2, "start": "08:00", "end": "12:00"}]
    created = await make_practitioner(
        env, specialty="pediatrics", practice_start_date="2019-03-01", working_hours=hours
    )

    async with env.uow() as uow:
        found = await contract.find_practitioner(uow.session, uuid.UUID(created["id"]))

    assert found == contract.PractitionerSummary(
        id=uuid.UUID(created["id"]),
        first_name=created["first_name"],
        last_name=created["last_name"],
        specialty="pediatrics",
        practice_start_date=date(2019, 3, 1),
        working_hours=((2, time(8), time(12)), (2, time(13), time(17))),
    )
    assert contract.experience_years(found, date(2030, 2, 28)) == 10
    assert contract.experience_years(found, date(2030, 3, 1)) == 11


async def test_unknown_and_removed_practitioners_are_not_found(env):
    created = await make_practitioner(env)
    await env.client.delete(f"/api/v1/practitioners/{created['id']}", headers=env.admin)
    async with env.uow() as uow:
        assert await contract.find_practitioner(uow.session, uuid.UUID(created["id"])) is None
        assert await contract.find_practitioner(uow.session, uuid.uuid4()) is None
