"""order.placed books each test on the first day with a free slot within 14 days, all or nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import insert

from caremesh.platform.messaging.consumer import tables_of
from tests.builders.lab import LAB_TESTS, booked, day, lab_orders, make_lab_test, place, placed, today
from tests.builders.notifications import publish
from tests.builders.patients import make_patient
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, outbox_payloads


async def test_capacity_one_sends_the_second_order_to_tomorrow(env):
    test = await make_lab_test(env, daily_capacity=1)
    patient = await make_patient(env)
    first, second = placed(patient["id"], test), placed(patient["id"], test)
    await place(env, first)
    await place(env, second)

    [a] = await lab_orders(env, order_id=first["order_id"])
    [b] = await lab_orders(env, order_id=second["order_id"])
    assert (a["scheduled_date"], b["scheduled_date"]) == (day(env, 0), day(env, 1))
    assert (a["status"], a["patient_id"], a["order_confirmed"], a["results"]) == (
        "scheduled",
        patient["id"],
        False,
        None,
    )
    assert (
        await booked(env, test["id"], today(env)),
        await booked(env, test["id"], date.fromisoformat(day(env, 1))),
    ) == (
        1,
        1,
    )


async def test_lab_scheduled_lists_every_item_in_order_and_the_same_test_twice_takes_two_slots(env):
    cbc = await make_lab_test(env, daily_capacity=1, price="350.00", loinc="718-7")
    lipids = await make_lab_test(env, daily_capacity=3, price="820.50")
    patient = await make_patient(env)
    order = placed(patient["id"], cbc, lipids, cbc)

    await place(env, order)

    [event] = await outbox_payloads(env, "lab.scheduled")
    assert (event["order_id"], event["patient_id"], event["scheduled_at"]) == (
        order["order_id"],
        patient["id"],
        "2030-01-07T06:00:00Z",
    )
    rows = await lab_orders(env, order_id=order["order_id"])
    assert [r["position"] for r in rows] == [1, 2, 3]
    assert event["lab_orders"] == [
        {
            "lab_order_id": rows[0]["id"],
            "lab_test_id": cbc["id"],
            "code": cbc["code"],
            "name": cbc["name"],
            "price": "350.00",
            "currency": "INR",
            "scheduled_date": day(env, 0),
        },
        {
            "lab_order_id": rows[1]["id"],
            "lab_test_id": lipids["id"],
            "code": lipids["code"],
            "name": lipids["name"],
            "price": "820.50",
            "currency": "INR",
            "scheduled_date": day(env, 0),
        },
        {
            "lab_order_id": rows[2]["id"],
            "lab_test_id": cbc["id"],
            "code": cbc["code"],
            "name": cbc["name"],
            "price": "350.00",
            "currency": "INR",
            "scheduled_date": day(env, 1),
        },
    ]


async def test_fourteen_full_days_fail_the_order_and_give_back_the_earlier_items(env):
    free = await make_lab_test(env, daily_capacity=2)
    scarce = await make_lab_test(env, daily_capacity=1)
    patient = await make_patient(env)
    for _ in range(14):  # fills today .. today+13
        await place(env, placed(patient["id"], scarce))
    assert sorted(o["scheduled_date"] for o in await lab_orders(env, lab_test_id=scarce["id"])) == [
        day(env, n) for n in range(14)
    ]
    order = placed(patient["id"], free, free, scarce)

    await place(env, order)

    rows = await lab_orders(env, order_id=order["order_id"])
    assert [(r["lab_test_id"], r["status"]) for r in rows] == [(free["id"], "cancelled"), (free["id"], "cancelled")]
    assert await booked(env, free["id"], today(env)) == 0  # both slots given back
    [failed] = await outbox_payloads(env, "lab.scheduling_failed")
    assert failed == {
        "order_id": order["order_id"],
        "patient_id": patient["id"],
        "failure_reason": "NO_LAB_CAPACITY",
        "lab_test_id": scarce["id"],
        "cancelled": [
            {"lab_order_id": r["id"], "lab_test_id": free["id"], "scheduled_date": day(env, 0)} for r in rows
        ],
        "failed_at": "2030-01-07T06:00:00Z",
    }
    assert len(await outbox_payloads(env, "lab.scheduled")) == 14


async def test_capacity_zero_takes_no_booking(env):
    closed = await make_lab_test(env, daily_capacity=0)
    patient = await make_patient(env)
    order = placed(patient["id"], closed)

    await place(env, order)

    assert await lab_orders(env, order_id=order["order_id"]) == []
    [failed] = await outbox_payloads(env, "lab.scheduling_failed")
    assert (failed["failure_reason"], failed["lab_test_id"], failed["cancelled"]) == (
        "NO_LAB_CAPACITY",
        closed["id"],
        [],
    )
    assert await env.count("lab_test_days") == 0


async def test_an_unknown_test_fails_the_order_with_lab_test_not_found(env):
    known = await make_lab_test(env)
    patient = await make_patient(env)
    unknown = str(uuid.uuid4())
    order = placed(patient["id"], known, unknown)

    await place(env, order)

    [failed] = await outbox_payloads(env, "lab.scheduling_failed")
    assert (failed["failure_reason"], failed["lab_test_id"]) == ("LAB_TEST_NOT_FOUND", unknown)
    assert [c["lab_test_id"] for c in failed["cancelled"]] == [known["id"]]
    assert await booked(env, known["id"], today(env)) == 0


async def test_a_lowered_capacity_keeps_its_bookings_and_takes_no_new_ones_that_day(env):
    test = await make_lab_test(env, daily_capacity=3)
    patient = await make_patient(env)
    for _ in range(3):
        await place(env, placed(patient["id"], test))
    lowered = await env.client.patch(f"{LAB_TESTS}/{test['id']}", json={"daily_capacity": 1}, headers=env.admin)
    assert lowered.status_code == 200, lowered.text

    later = placed(patient["id"], test)
    await place(env, later)

    assert [o["status"] for o in await lab_orders(env, lab_test_id=test["id"])].count("scheduled") == 4
    [booking] = await lab_orders(env, order_id=later["order_id"])
    assert booking["scheduled_date"] == day(env, 1)
    assert await booked(env, test["id"], today(env)) == 3


async def test_prescriptions_are_not_the_labs(env):
    test = await make_lab_test(env)
    patient = await make_patient(env)
    prescription = placed(patient["id"], test, type_="prescription")
    prescription["items"] = [{"medication_id": str(uuid.uuid4()), "quantity": 1, "dosage": None}]

    await place(env, prescription)

    assert await env.count("lab_orders") == 0
    assert await env.count("lab_known_orders") == 0
    assert await outbox_payloads(env, "lab.scheduled") == []


async def test_a_redelivered_or_repeated_order_placed_books_once(env):
    test = await make_lab_test(env, daily_capacity=5)
    patient = await make_patient(env)
    order = placed(patient["id"], test, test)
    envelope = await place(env, order)

    # The same event delivered again to the consumer, and the same order announced by another event.
    async with env.db.engine.begin() as connection:
        await connection.execute(
            insert(tables_of("lab").deliveries).values(
                consumer="lab",
                event_id=envelope.id,
                event_type=envelope.type,
                envelope=envelope.to_dict(),
                attempts=0,
                next_attempt_at=envelope.occurred_at,
            )
        )
    await publish(env, "order.placed", order)
    await env.drain()

    assert len(await lab_orders(env, order_id=order["order_id"])) == 2
    assert await booked(env, test["id"], today(env)) == 2
    assert len(await outbox_payloads(env, "lab.scheduled")) == 1
    assert await env.count("dead_letters") == 0


async def test_the_day_is_the_clinics(make_env):
    async with make_env(timezone="Asia/Kolkata") as env:
        # 20:00 UTC on Monday is 01:30 on Tuesday in Kolkata: the window starts on Tuesday.
        env.clock.set(datetime(2030, 1, 7, 20, 0, tzinfo=UTC))
        env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        test = await make_lab_test(env, daily_capacity=1)
        patient = await make_patient(env)
        first, second = placed(patient["id"], test), placed(patient["id"], test)
        await place(env, first)
        await place(env, second)

        [a] = await lab_orders(env, order_id=first["order_id"])
        [b] = await lab_orders(env, order_id=second["order_id"])
        assert (a["scheduled_date"], b["scheduled_date"]) == ("2030-01-08", "2030-01-09")

        # 18:29 UTC on Tuesday is 23:59 local: still Tuesday (8th, 9th taken, so the 10th).
        env.clock.set(datetime(2030, 1, 8, 18, 29, tzinfo=UTC))
        env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        late = placed(patient["id"], test)
        await place(env, late)
        assert [o["scheduled_date"] for o in await lab_orders(env, order_id=late["order_id"])] == ["2030-01-10"]
        env.clock.set(datetime(2030, 1, 8, 18, 30, tzinfo=UTC))
        env.admin = await env.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        # 18:30 UTC is Wednesday 00:00 local: the window is the 9th .. 22nd, where 12 days are still free.
        for _ in range(12):
            await place(env, placed(patient["id"], test))
        failing = placed(patient["id"], test)
        await place(env, failing)
        assert await lab_orders(env, order_id=failing["order_id"]) == []
        assert [p["failure_reason"] for p in await outbox_payloads(env, "lab.scheduling_failed")] == ["NO_LAB_CAPACITY"]
