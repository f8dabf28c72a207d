"""Invoices: issued on completion or on demand, one per appointment, read, listed and voided."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from caremesh.billing import contract as billing
from caremesh.billing import service
from caremesh.platform.messaging.consumer import tables_of
from tests.billing.helpers import billing_snapshot, deliver, published
from tests.builders.billing import INVOICES, completed_visit, completed_visit_invoice, invoice_of
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import assert_problem, at, make_appointment, outbox_payloads

MISSING = "00000000-0000-4000-8000-000000000000"


async def post_invoice(env, appointment_id, headers=None):
    return await env.client.post(INVOICES, json={"appointment_id": appointment_id}, headers=headers or env.admin)


# --- issuing ------------------------------------------------------------------------------


async def test_post_issues_the_invoice_once_then_returns_it(env):
    visit = await completed_visit(env)

    first = await post_invoice(env, visit["id"])
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/api/v1/invoices/{first.json()['id']}"
    assert first.headers["ETag"] == '"1"'
    again = await post_invoice(env, visit["id"])
    assert again.status_code == 200, again.text
    assert again.json() == first.json()

    await env.drain()  # the consumer of appointment.completed finds it issued
    assert await env.count("invoices") == 1
    assert (await env.outbox_types()).count("invoice.issued") == 1
    assert await env.count("audit_events", "action = 'invoice.issue'") == 1
    invoice = first.json()
    assert (invoice["number"], invoice["appointment_id"], invoice["status"]) == (
        "INV-2030-000001",
        visit["id"],
        "issued",
    )


async def test_the_consumer_issues_the_invoice_and_post_returns_it(env):
    visit = await completed_visit(env)
    await env.drain()
    issued = await invoice_of(env, visit["id"])
    response = await post_invoice(env, visit["id"])
    assert response.status_code == 200, response.text
    assert response.json() == issued


async def test_numbers_are_gapless_in_order_of_issue(env):
    invoices = [await completed_visit_invoice(env) for _ in range(3)]
    assert [i["number"] for i in invoices] == ["INV-2030-000001", "INV-2030-000002", "INV-2030-000003"]


async def test_an_appointment_not_completed_is_not_invoiced(env):
    doctor, patient = await make_practitioner(env), await make_patient(env)
    appointment = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=at(9))
    before = await billing_snapshot(env)
    assert_problem(await post_invoice(env, appointment["id"]), 409, "APPOINTMENT_NOT_COMPLETED")
    assert await billing_snapshot(env) == before


async def test_an_unknown_appointment_is_404(env):
    before = await billing_snapshot(env)
    assert_problem(await post_invoice(env, MISSING), 404, "APPOINTMENT_NOT_FOUND")
    assert await billing_snapshot(env) == before


async def test_malformed_requests_are_422(env):
    for body in ({}, {"appointment_id": "nope"}, {"appointment_id": MISSING, "amount": "1.00"}):
        assert_problem(await env.client.post(INVOICES, json=body, headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(await env.client.get(f"{INVOICES}/not-a-uuid", headers=env.admin), 422, "VALIDATION_ERROR")
    assert_problem(
        await env.client.get(INVOICES, params={"status": "open"}, headers=env.admin), 422, "VALIDATION_ERROR"
    )


# --- delivery: redelivery, duplicates, crashes ---------------------------------------------------


async def test_a_redelivered_appointment_completed_makes_no_second_invoice(env):
    visit = await completed_visit(env)
    await env.drain()
    [completed] = await published(env, "appointment.completed")

    await deliver(env, completed)  # the same event again: the inbox knows it
    await deliver(env, completed, fresh_id=True)  # the same fact as a new event: the invoice exists
    await env.drain()

    assert await env.count("invoices") == 1
    assert await env.count("event_deliveries") == 0
    assert await env.count("dead_letters") == 0
    assert (await env.outbox_types()).count("invoice.issued") == 1
    assert (await invoice_of(env, visit["id"]))["number"] == "INV-2030-000001"


async def test_a_consumer_crashing_after_the_insert_leaves_nothing_and_the_retry_issues(env, monkeypatch):
    visit = await completed_visit(env)

    def crash(_invoice):
        raise RuntimeError("crashed after the invoice was flushed")

    with monkeypatch.context() as patched:
        patched.setattr(service, "_issued_event", crash)
        await env.drain()

    assert await env.count("invoices") == 0
    assert await env.count("invoice_lines") == 0
    assert await env.count("number_sequences", "prefix = 'INV'") == 0  # the number went back too
    assert "invoice.issued" not in await env.outbox_types()
    async with env.db.sessionmaker() as session:
        deliveries = tables_of("billing").deliveries
        delivery = await session.scalar(select(deliveries).where(deliveries.consumer == "billing"))
    assert delivery.attempts == 1
    assert "crashed after the invoice was flushed" in delivery.last_error

    env.clock.advance(minutes=5)
    await env.drain()
    invoice = await invoice_of(env, visit["id"])
    assert (invoice["number"], invoice["total"]) == ("INV-2030-000001", "1120.00")  # 1000.00 + 12 %
    assert await env.count("event_deliveries") == 0


# --- reading ------------------------------------------------------------------------------


async def test_get_returns_the_invoice_with_its_etag_and_is_audited(env):
    invoice = await completed_visit_invoice(env)
    response = await env.client.get(f"{INVOICES}/{invoice['id']}", headers=env.admin)
    assert response.status_code == 200, response.text
    assert response.json() == invoice
    assert response.headers["ETag"] == '"1"'
    assert await env.count("audit_events", "action = 'invoice.read' AND entity_id = :id", id=invoice["id"]) == 1
    assert_problem(await env.client.get(f"{INVOICES}/{MISSING}", headers=env.admin), 404, "INVOICE_NOT_FOUND")


async def test_list_filters_and_pages_in_order_of_number(env):
    patient = await make_patient(env)
    mine = [await completed_visit_invoice(env, patient=patient) for _ in range(3)]
    other = await completed_visit_invoice(env)
    async with env.uow() as uow:
        await service.void_invoice(uow, uuid.UUID(mine[1]["id"]), "test", None)

    async def ids(**params):
        response = await env.client.get(INVOICES, params=params, headers=env.admin)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert await ids() == [*(i["id"] for i in mine), other["id"]]
    assert await ids(patient_id=patient["id"]) == [i["id"] for i in mine]
    assert await ids(patient_id=patient["id"], status="issued") == [mine[0]["id"], mine[2]["id"]]
    assert await ids(status="void") == [mine[1]["id"]]
    assert await ids(appointment_id=other["appointment_id"]) == [other["id"]]

    seen, cursor = [], None
    while True:
        params = {"limit": 1, "patient_id": patient["id"]} | ({"cursor": cursor} if cursor else {})
        page = (await env.client.get(INVOICES, params=params, headers=env.admin)).json()
        seen += [i["number"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [i["number"] for i in mine]
    assert await env.count("audit_events", "action = 'invoice.list_read' AND entity_id = :id", id=mine[0]["id"]) >= 1


# --- voiding ------------------------------------------------------------------------------


async def void(env, invoice_id, body=None, headers=None):
    return await env.client.post(f"{INVOICES}/{invoice_id}/void", json=body, headers=headers or env.admin)


async def test_void_an_invoice_without_payments(env):
    invoice = await completed_visit_invoice(env)
    response = await void(env, invoice["id"], {"reason": "entered in error"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["void_reason"], body["voided_at"], body["version"]) == (
        "void",
        "entered in error",
        body["updated_at"],
        2,
    )
    assert response.headers["ETag"] == '"2"'
    [payload] = await outbox_payloads(env, "invoice.voided")
    assert payload == {
        "invoice_id": invoice["id"],
        "number": invoice["number"],
        "patient_id": invoice["patient_id"],
        "appointment_id": invoice["appointment_id"],
        "order_id": None,
        "reason": "entered in error",
        "voided_at": body["voided_at"],
    }
    assert await env.count("audit_events", "action = 'invoice.void'") == 1
    # The appointment keeps its (void) invoice: asking again returns it, nothing new is issued.
    again = await post_invoice(env, invoice["appointment_id"])
    assert (again.status_code, again.json()["id"], again.json()["status"]) == (200, invoice["id"], "void")


async def test_void_without_a_body_has_no_reason(env):
    invoice = await completed_visit_invoice(env)
    response = await void(env, invoice["id"])
    assert (response.status_code, response.json()["void_reason"]) == (200, None)


async def test_an_invoice_is_voided_once(env):
    invoice = await completed_visit_invoice(env)
    assert (await void(env, invoice["id"])).status_code == 200
    before = await billing_snapshot(env)
    assert_problem(await void(env, invoice["id"]), 409, "INVOICE_NOT_VOIDABLE")
    assert await billing_snapshot(env) == before


async def test_an_invoice_with_payments_pending_or_made_is_not_voided(env):
    invoice = await completed_visit_invoice(env)
    invoice_id = uuid.UUID(invoice["id"])
    async with env.uow() as uow:
        await billing.reserve_payment(uow, invoice_id, Decimal("50.00"))
    before = await billing_snapshot(env)
    assert_problem(await void(env, invoice["id"]), 409, "INVOICE_HAS_PAYMENTS")  # in flight at the gateway
    assert await billing_snapshot(env) == before

    async with env.uow() as uow:
        await billing.settle_payment(uow, invoice_id, Decimal("50.00"), succeeded=True)
    assert_problem(await void(env, invoice["id"]), 409, "INVOICE_HAS_PAYMENTS")

    async with env.uow() as uow:  # refunded in full: nothing is paid any more, so it may be voided
        await billing.record_refund(uow, invoice_id, Decimal("50.00"))
    assert (await void(env, invoice["id"])).json()["status"] == "void"


async def test_void_honours_if_match(env):
    invoice = await completed_visit_invoice(env)
    assert_problem(await void(env, invoice["id"], headers={**env.admin, "If-Match": '"7"'}), 412, "VERSION_CONFLICT")
    response = await void(env, invoice["id"], headers={**env.admin, "If-Match": '"1"'})
    assert response.status_code == 200, response.text


async def test_void_of_an_unknown_invoice_is_404_and_a_long_reason_422(env):
    assert_problem(await void(env, MISSING), 404, "INVOICE_NOT_FOUND")
    invoice = await completed_visit_invoice(env)
    assert_problem(await void(env, invoice["id"], {"reason": "x" * 501}), 422, "VALIDATION_ERROR")
    assert_problem(await void(env, invoice["id"], {"reason": "ok", "extra": 1}), 422, "VALIDATION_ERROR")
