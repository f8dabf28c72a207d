"""The database itself refuses overbooking and lab orders that break the rules, on SQLite as on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError

from caremesh.lab.models import LabOrder, LabTest, LabTestDay

NOW = datetime(2030, 1, 7, 9, tzinfo=UTC)
DAY = date(2030, 1, 7)


async def write(env, statement, params=None) -> None:
    async with env.db.engine.begin() as connection:
        await connection.execute(statement, params or {})


async def refused(env, statement, constraint: str, params=None) -> None:
    with pytest.raises(IntegrityError) as caught:
        await write(env, statement, params)
    assert constraint in str(caught.value).lower()


async def a_test(env, capacity: int = 2) -> uuid.UUID:
    test_id = uuid.uuid4()
    row = {
        "id": test_id,
        "code": f"RAW-{test_id.hex[:8]}",
        "name": "Raw",
        "loinc": None,
        "price": Decimal("10.00"),
        "currency": "INR",
        "daily_capacity": capacity,
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    await write(env, insert(LabTest).values(**row))
    return test_id


async def test_the_check_refuses_overbooking_written_by_raw_sql(env):
    test_id = await a_test(env)
    await write(env, insert(LabTestDay).values(lab_test_id=test_id, day=DAY, booked=2, capacity=2))
    where = (LabTestDay.lab_test_id == test_id) & (LabTestDay.day == DAY)

    await refused(env, update(LabTestDay).where(where).values(booked=LabTestDay.booked + 1), "within_capacity")
    await refused(env, text("UPDATE lab_test_days SET booked = booked + 1"), "within_capacity")
    await refused(env, update(LabTestDay).where(where).values(capacity=1), "within_capacity")
    await refused(env, update(LabTestDay).where(where).values(booked=-1), "booked_not_negative")
    other = {"lab_test_id": test_id, "day": date(2030, 1, 8)}
    await refused(env, insert(LabTestDay).values(**other, booked=1, capacity=0), "within_capacity")
    async with env.db.engine.connect() as connection:
        assert (await connection.execute(text("SELECT sum(booked) FROM lab_test_days"))).scalar() == 2


async def test_capacity_and_price_are_not_negative_and_codes_unique(env):
    await a_test(env)
    test_id = await a_test(env)
    where = LabTest.id == test_id
    await refused(env, update(LabTest).where(where).values(daily_capacity=-1), "daily_capacity_not_negative")
    await refused(env, update(LabTest).where(where).values(price=Decimal("-0.01")), "price_not_negative")
    with pytest.raises(IntegrityError):
        await write(env, text("UPDATE lab_tests SET code = 'SAME'"))


def lab_order_row(test_id: uuid.UUID, **overrides) -> dict:
    row = {
        "id": uuid.uuid4(),
        "order_id": uuid.uuid4(),
        "position": 1,
        "patient_id": uuid.uuid4(),
        "lab_test_id": test_id,
        "scheduled_date": DAY,
        "status": "scheduled",
        "order_confirmed": False,
        "results": None,
        "resulted_at": None,
        "cancelled_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"status": "lost"}, "status_known"),
        ({"position": 0}, "position_positive"),
        ({"status": "resulted", "results": [{"name": "Hb", "value": "1"}], "resulted_at": NOW}, "only_when_confirmed"),
        ({"status": "resulted", "order_confirmed": True}, "results_iff_resulted"),
        ({"results": [{"name": "Hb", "value": "1"}], "resulted_at": NOW}, "results_iff_resulted"),
        ({"status": "cancelled"}, "cancelled_at_iff_cancelled"),
        ({"cancelled_at": NOW}, "cancelled_at_iff_cancelled"),
    ],
)
async def test_a_lab_order_row_breaking_a_rule_is_refused(env, overrides, constraint):
    test_id = await a_test(env)
    await refused(env, insert(LabOrder).values(**lab_order_row(test_id, **overrides)), constraint)
    assert await env.count("lab_orders") == 0


async def test_one_lab_order_per_item_of_an_order_and_only_for_known_tests(env):
    test_id = await a_test(env)
    row = lab_order_row(test_id)
    await write(env, insert(LabOrder).values(**row))
    await write(env, insert(LabOrder).values(**lab_order_row(test_id, order_id=row["order_id"], position=2)))
    with pytest.raises(IntegrityError):
        await write(env, insert(LabOrder).values(**lab_order_row(test_id, order_id=row["order_id"])))
    await refused(env, insert(LabOrder).values(**lab_order_row(uuid.uuid4())), "foreign key")
    assert await env.count("lab_orders") == 2
