"""Who reads and reports imaging orders: radiologists and doctors report, a receptionist neither reads nor reports,
a patient reads only their own imaging orders (another's do not exist for them). Reads are audited."""

from __future__ import annotations

from tests.builders.imaging import IMAGING_ORDERS, imaging_order, imaging_orders, make_study, report
from tests.builders.orders import parties, place_order
from tests.harness import assert_problem


async def _booked(env, patient, practitioner, study) -> dict:
    placed = await place_order(env, imaging_order(patient, practitioner, study))
    await env.drain()
    [booking] = await imaging_orders(env, order_id=placed["id"])
    return booking


async def test_a_receptionist_may_neither_read_nor_report_and_a_nurse_reads_only(env):
    study = await make_study(env)
    patient, practitioner = await parties(env)
    booking = await _booked(env, patient, practitioner, study)
    receptionist, nurse, technician = [await env.user([r]) for r in ("receptionist", "nurse", "lab_technician")]

    for headers in (receptionist, technician):
        assert_problem(await report(env, booking["id"], headers=headers), 403, "FORBIDDEN")
        assert_problem(await env.client.get(IMAGING_ORDERS, headers=headers), 403, "FORBIDDEN")
    assert (await env.client.get(f"{IMAGING_ORDERS}/{booking['id']}", headers=nurse)).status_code == 200
    assert_problem(await report(env, booking["id"], headers=nurse), 403, "FORBIDDEN")
    [unchanged] = await imaging_orders(env, order_id=booking["order_id"])
    assert (unchanged["status"], unchanged["report"]) == ("scheduled", None)


async def test_a_patient_reads_only_their_own_imaging_orders(env):
    study = await make_study(env)
    (patient, practitioner), (other, _) = await parties(env), await parties(env)
    own = await _booked(env, patient, practitioner, study)
    theirs = await _booked(env, other, practitioner, study)
    assert (await report(env, own["id"])).status_code == 200
    headers = await env.user(["patient"], patient_id=patient["id"])

    mine = await env.client.get(f"{IMAGING_ORDERS}/{own['id']}", headers=headers)
    assert mine.status_code == 200
    assert mine.json()["report"]["impression"] == "Normal chest radiograph."
    assert mine.headers["cache-control"] == "no-store"
    assert_problem(
        await env.client.get(f"{IMAGING_ORDERS}/{theirs['id']}", headers=headers), 404, "IMAGING_ORDER_NOT_FOUND"
    )
    assert [o["id"] for o in await imaging_orders(env, headers)] == [own["id"]]
    assert await imaging_orders(env, headers, order_id=theirs["order_id"]) == []
    assert_problem(await report(env, own["id"], headers=headers), 403, "FORBIDDEN")


async def test_reads_of_imaging_orders_are_audited(env):
    study = await make_study(env)
    patient, practitioner = await parties(env)
    booking = await _booked(env, patient, practitioner, study)
    before = await env.count("audit_events", "action = 'imaging_order.read'")

    assert (await env.client.get(f"{IMAGING_ORDERS}/{booking['id']}", headers=env.admin)).status_code == 200

    assert await env.count("audit_events", "action = 'imaging_order.read'") == before + 1
    assert await env.count("audit_events", "action = 'imaging_order.list_read'") >= 1
