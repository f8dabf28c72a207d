"""Procedures recorded on a visit are billed by their `procedure` tariff: on the visit's invoice before any payment
(re-priced by API.md's amounts), on a supplementary invoice after; on the completion invoice when recorded before
it; once, however the events are delivered. Through the API, with the real consumers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from caremesh.billing import procedures
from caremesh.billing.models import InvoiceLine
from tests.billing.helpers import deliver, published
from tests.builders.billing import (
    INVOICES,
    complete,
    completed_visit_invoice,
    invoice_of,
    next_working_day,
    procedure_tariff,
    rfc3339,
)
from tests.builders.patients import make_patient
from tests.builders.payments import make_payment
from tests.builders.practitioners import make_practitioner
from tests.builders.records import RECORDS, post_record, procedure, record_procedure
from tests.builders.scheduling import assert_problem, make_appointment
from tests.harness import T0

AMOUNTS = ("subtotal", "discount_amount", "tax_amount", "total", "insurance_amount", "patient_amount")


def amounts(invoice: dict) -> tuple[str, ...]:
    return tuple(invoice[name] for name in AMOUNTS)


def billed(invoice: dict) -> list[tuple]:
    """The invoice's lines as (code, quantity, unit price, amount, record)."""
    return [
        (line["code"], line["quantity"], line["unit_price"], line["amount"], line["medical_record_id"])
        for line in invoice["lines"]
    ]


async def visit_invoices(env, appointment_id: str) -> list[dict]:
    """Every invoice of the visit, in the order issued: the consultation invoice, then supplementary ones."""
    response = await env.client.get(INVOICES, params={"appointment_id": appointment_id}, headers=env.admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def amend(env, record: dict, **content) -> dict:
    body = {"type": "procedure", "code": record["code"], "quantity": record["quantity"], **content}
    headers = {**env.admin, "If-Match": f'"{record["version"]}"'}
    response = await env.client.put(f"{RECORDS}/{record['id']}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def retract(env, record: dict) -> None:
    headers = {**env.admin, "If-Match": f'"{record["version"]}"'}
    response = await env.client.post(
        f"{RECORDS}/{record['id']}/retract", json={"reason": "wrong visit"}, headers=headers
    )
    assert response.status_code == 200, response.text


# --- NO_TARIFF ---------------------------------------------------------------------------------------------------


async def test_a_procedure_no_tariff_prices_is_refused_and_nothing_is_recorded(env):
    bill = await completed_visit_invoice(env)

    refused = await post_record(
        env, bill["patient_id"], procedure(code="99214"), appointment_id=bill["appointment_id"], priced=False
    )
    body = assert_problem(refused, 422, "NO_TARIFF")
    assert body["errors"][0]["loc"] == ["code"]
    # A tariff of another kind with the code does not price a procedure either.
    await env.client.post(
        "/api/v1/tariffs",
        json={"code": "99215", "description": "x", "kind": "lab", "pricing": {"type": "flat", "amount": "1.00"}},
        headers=env.admin,
    )
    other_kind = await post_record(env, bill["patient_id"], procedure(code="99215"), priced=False)
    assert_problem(other_kind, 422, "NO_TARIFF")

    assert await env.count("medical_records") == 0
    assert "medical_record.created" not in await env.outbox_types()


async def test_an_amendment_to_a_code_no_tariff_prices_is_refused_and_one_keeping_its_code_is_not(env):
    bill = await completed_visit_invoice(env)
    record = await record_procedure(env, bill, "99213")

    headers = {**env.admin, "If-Match": f'"{record["version"]}"'}
    refused = await env.client.put(
        f"{RECORDS}/{record['id']}", json={"type": "procedure", "code": "99499", "quantity": 1}, headers=headers
    )
    assert_problem(refused, 422, "NO_TARIFF")
    assert await env.count("medical_record_versions") == 1

    amended = await amend(env, record, quantity=2)  # same code: priced
    assert (amended["quantity"], amended["version"]) == (2, 2)


# --- before payments: the visit's invoice -----------------------------------------------------------------------


async def test_a_procedure_before_any_payment_is_a_line_of_the_visit_invoice_repriced_by_the_amounts(env):
    bill = await completed_visit_invoice(env)  # cardiology, 1500.00, 90 % insured
    assert amounts(bill) == ("1500.00", "0.00", "180.00", "1680.00", "1512.00", "168.00")

    record = await record_procedure(env, bill, "99213", quantity=2)  # 2 x 450.00
    await env.drain()

    invoice = await invoice_of(env, bill["appointment_id"])
    assert (invoice["id"], invoice["number"]) == (bill["id"], bill["number"])
    assert billed(invoice) == [
        ("CONSULT-CARDIOLOGY", 1, "1500.00", "1500.00", None),
        ("99213", 2, "450.00", "900.00", record["id"]),
    ]
    # 2400.00, no prior visit, tax 12 % 288.00, total 2688.00, insurer 90 % 2419.20, patient 268.80.
    assert amounts(invoice) == ("2400.00", "0.00", "288.00", "2688.00", "2419.20", "268.80")
    assert (invoice["status"], invoice["balance_due"], invoice["kind"]) == ("issued", "268.80", "consultation")


async def test_the_line_follows_an_amendment_and_a_retraction_before_payments(env):
    bill = await completed_visit_invoice(env)
    record = await record_procedure(env, bill, "99213")
    await env.drain()

    await procedure_tariff(env, "G0008", amount="120.00")
    amended = await amend(env, record, code="G0008", quantity=3)
    await env.drain()
    invoice = await invoice_of(env, bill["appointment_id"])
    assert billed(invoice)[1] == ("G0008", 3, "120.00", "360.00", record["id"])
    assert amounts(invoice) == ("1860.00", "0.00", "223.20", "2083.20", "1874.88", "208.32")

    await retract(env, amended)
    await env.drain()
    invoice = await invoice_of(env, bill["appointment_id"])
    assert len(invoice["lines"]) == 1
    assert amounts(invoice) == amounts(bill)


# --- after payments: a supplementary invoice ---------------------------------------------------------------------


async def test_a_procedure_after_a_payment_makes_a_supplementary_invoice_and_the_paid_one_stays(env):
    bill = await completed_visit_invoice(env)
    await make_payment(env, bill["id"], "100.00")

    record = await record_procedure(env, bill, "99213")
    await env.drain()

    consultation, supplementary = await visit_invoices(env, bill["appointment_id"])
    assert consultation["id"] == bill["id"]
    assert (amounts(consultation), len(consultation["lines"])) == (amounts(bill), 1)
    assert consultation["amount_paid"] == "100.00"
    assert (supplementary["kind"], supplementary["appointment_id"], supplementary["status"]) == (
        "procedure",
        bill["appointment_id"],
        "issued",
    )
    assert supplementary["number"] == "INV-2030-000002"  # gapless, after the visit's
    assert billed(supplementary) == [("99213", 1, "450.00", "450.00", record["id"])]
    # The tariff's tax (the default 12 %), the procedure category's coverage (the default 90 %).
    assert amounts(supplementary) == ("450.00", "0.00", "54.00", "504.00", "453.60", "50.40")
    issued = [event.payload["invoice_id"] for event in await published(env, "invoice.issued")]
    assert issued == [bill["id"], supplementary["id"]]

    # The next procedure joins the supplementary invoice while it has no payment; after one, a third invoice.
    second = await record_procedure(env, bill, "99213", quantity=2)
    await env.drain()
    [_, supplementary] = await visit_invoices(env, bill["appointment_id"])
    assert [line[4] for line in billed(supplementary)] == [record["id"], second["id"]]
    assert amounts(supplementary) == ("1350.00", "0.00", "162.00", "1512.00", "1360.80", "151.20")

    await make_payment(env, supplementary["id"], "151.20")  # paid in full
    await record_procedure(env, bill, "99213")
    await env.drain()
    assert [i["kind"] for i in await visit_invoices(env, bill["appointment_id"])] == [
        "consultation",
        "procedure",
        "procedure",
    ]


async def test_after_a_payment_an_amendment_or_retraction_changes_no_invoice(env):
    bill = await completed_visit_invoice(env)
    record = await record_procedure(env, bill, "99213")
    await env.drain()
    before = await invoice_of(env, bill["appointment_id"])
    await make_payment(env, bill["id"], "50.00")

    amended = await amend(env, record, quantity=4)
    await retract(env, amended)
    await env.drain()

    after = await invoice_of(env, bill["appointment_id"])  # still the only invoice of the visit
    assert (billed(after), amounts(after)) == (billed(before), amounts(before))


async def test_a_supplementary_invoice_whose_procedure_is_retracted_before_payment_is_voided(env):
    bill = await completed_visit_invoice(env)
    await make_payment(env, bill["id"], "100.00")
    record = await record_procedure(env, bill, "99213")
    await env.drain()

    await retract(env, record)
    await env.drain()

    consultation, supplementary = await visit_invoices(env, bill["appointment_id"])
    assert (supplementary["status"], supplementary["lines"]) == ("void", [])
    assert consultation["amount_paid"] == "100.00"
    assert [e.payload["invoice_id"] for e in await published(env, "invoice.voided")] == [supplementary["id"]]


# --- before completion, and deliveries --------------------------------------------------------------------------


async def test_a_procedure_recorded_before_completion_is_on_the_completion_invoice_once(env):
    patient, doctor = await make_patient(env), await make_practitioner(env)
    start = datetime.combine(next_working_day(env), time(10), tzinfo=T0.tzinfo)
    visit = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=rfc3339(start))
    record = await record_procedure(env, {"patient_id": patient["id"], "appointment_id": visit["id"]}, "99213")
    await env.drain()  # billing hears of it: no invoice yet, nothing to do
    assert await env.count("invoices") == 0

    await complete(env, visit["id"], start, start + timedelta(minutes=30))
    await env.drain()

    invoice = await invoice_of(env, visit["id"])
    assert [line[4] for line in billed(invoice)] == [None, record["id"]]
    [created] = await published(env, "medical_record.created")
    await deliver(env, created)  # redelivered: the inbox knows it
    await deliver(env, created, fresh_id=True)  # the same fact as a new event: the line knows its record
    await env.drain()
    assert billed(await invoice_of(env, visit["id"])) == billed(invoice)
    assert await env.count("invoice_lines") == 2
    assert await env.count("dead_letters") == 0


async def test_a_redelivered_or_reordered_event_bills_a_procedure_once(env):
    bill = await completed_visit_invoice(env)
    record = await record_procedure(env, bill, "99213")
    amended = await amend(env, record, quantity=2)
    [created] = await published(env, "medical_record.created")
    [amendment] = await published(env, "medical_record.amended")
    await env.drain()

    for envelope in (amendment, created, amendment):
        await deliver(env, envelope, fresh_id=True)
    await env.drain()

    invoice = await invoice_of(env, bill["appointment_id"])
    assert billed(invoice)[1:] == [("99213", 2, "450.00", "900.00", amended["id"])]
    assert await env.count("invoice_lines", "source_record_id IS NOT NULL") == 1
    assert await env.count("dead_letters") == 0


async def test_the_database_refuses_a_second_line_for_one_record(env):
    bill = await completed_visit_invoice(env)
    record = await record_procedure(env, bill, "99213")
    await env.drain()

    with pytest.raises(IntegrityError):
        async with env.uow() as uow:
            uow.session.add(
                InvoiceLine(
                    invoice_id=uuid.UUID(bill["id"]),
                    position=9,
                    code="99213",
                    description="again",
                    quantity=1,
                    unit_price=450,
                    amount=450,
                    source_record_id=uuid.UUID(record["id"]),
                )
            )
            await uow.session.flush()


async def test_concurrent_procedures_of_one_visit_are_each_billed_once_on_its_invoice(env):
    bill = await completed_visit_invoice(env)
    await procedure_tariff(env, "99213")
    await env.warm_pool(8)
    responses = await asyncio.gather(
        *(
            post_record(env, bill["patient_id"], procedure(quantity=1), appointment_id=bill["appointment_id"])
            for _ in range(8)
        )
    )
    assert [r.status_code for r in responses] == [201] * 8
    records = [uuid.UUID(r.json()["id"]) for r in responses]
    visit = uuid.UUID(bill["appointment_id"])

    async def consume(record_id: uuid.UUID) -> None:  # as many consumers at once, each with its transaction
        async with env.uow() as uow:
            await procedures.follow_procedure(uow, visit, record_id)

    await asyncio.gather(*(consume(record) for record in records + records))  # each twice, at once
    await env.drain()  # and the events themselves

    invoice = await invoice_of(env, bill["appointment_id"])
    lines = invoice["lines"]
    assert sorted(line["medical_record_id"] for line in lines[1:]) == sorted(str(r) for r in records)
    assert await env.count("invoice_lines") == 9
    # 1500.00 + 8 x 450.00 = 5100.00; tax 612.00; 5712.00; insurer 5140.80; patient 571.20.
    assert amounts(invoice) == ("5100.00", "0.00", "612.00", "5712.00", "5140.80", "571.20")
    assert await env.count("dead_letters") == 0
