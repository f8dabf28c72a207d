"""Consultation invoices priced by API.md's rules, end to end: book -> complete -> drain -> GET the invoice."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from tests.builders.billing import (
    INSURANCE,
    bands,
    complete,
    completed_visit_invoice,
    invoice_of,
    make_tariff,
    next_working_day,
    practice_start,
)
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import make_appointment, outbox_payloads
from tests.harness import T0

VISIT_DAY = T0.date() + timedelta(days=1)  # the builders' first visit: Tuesday, 10:00


def figures(invoice: dict[str, Any]) -> tuple[str, ...]:
    keys = ("subtotal", "discount_percent", "discount_amount", "tax_amount", "total", "insurance_amount")
    return (*(str(invoice[k]) for k in keys), invoice["patient_amount"])


async def complete_prior_visits(env, patient: dict[str, Any], count: int) -> None:
    """`count` completed 30-minute visits of the patient on the next working day, from 08:00."""
    doctor = await make_practitioner(env, specialty="dermatology")
    day = next_working_day(env)
    starts = [datetime.combine(day, time(8), tzinfo=T0.tzinfo) + timedelta(minutes=30 * i) for i in range(count)]
    booked = [
        await make_appointment(
            env, patient_id=patient["id"], practitioner_id=doctor["id"], start=start.isoformat().replace("+00:00", "Z")
        )
        for start in starts
    ]
    for appointment, start in zip(booked, starts, strict=True):
        await complete(env, appointment["id"], start, start + timedelta(minutes=30))


async def test_api_worked_example_end_to_end(env):
    patient = await make_patient(env, insurance=INSURANCE)
    await complete_prior_visits(env, patient, 1)
    invoice = await completed_visit_invoice(env, patient=patient, specialty="cardiology", experience_years=26)

    assert figures(invoice) == ("1500.00", "1", "15.00", "178.20", "1663.20", "1496.88", "166.32")
    assert (invoice["tax_rate"], invoice["coverage_percent"], invoice["currency"]) == ("0.12", "90.00", "INR")
    assert (invoice["amount_paid"], invoice["balance_due"], invoice["status"]) == ("0.00", "166.32", "issued")
    assert invoice["lines"] == [
        {
            "code": "CONSULT-CARDIOLOGY",
            "description": "Cardiology consultation",
            "quantity": 1,
            "unit_price": "1500.00",
            "amount": "1500.00",
            "medical_record_id": None,
        }
    ]
    assert (invoice["insurance_bin"], invoice["insurance_pcn"], invoice["insurance_paid"]) == (
        "610014",
        "ABC123",
        "0.00",
    )


@pytest.mark.parametrize(
    ("specialty", "years", "subtotal"),
    [
        ("cardiology", 19, "1000.00"),
        ("cardiology", 20, "1500.00"),
        ("cardiology", 30, "1500.00"),
        ("cardiology", 31, "2000.00"),
        ("orthopedics", 0, "800.00"),
        ("orthopedics", 19, "800.00"),
        ("orthopedics", 20, "1000.00"),
        ("orthopedics", 30, "1000.00"),
        ("orthopedics", 31, "1500.00"),
    ],
)
async def test_experience_band_boundaries(env, specialty, years, subtotal):
    # Exactly `years` on the visit's day (0: started today, the day before the visit).
    since = practice_start(years, VISIT_DAY) if years else T0.date().isoformat()
    doctor = await make_practitioner(env, specialty=specialty, practice_start_date=since)
    invoice = await completed_visit_invoice(env, practitioner=doctor, insured=False)
    assert invoice["subtotal"] == subtotal
    assert invoice["lines"][0]["code"] == f"CONSULT-{specialty.upper()}"


async def test_experience_counts_on_the_day_of_the_visit_not_today(env):
    # 19 whole years today (Monday); the 20th anniversary is the day of the visit.
    doctor = await make_practitioner(env, practice_start_date=practice_start(20, VISIT_DAY))
    assert doctor["experience_years"] == 19
    invoice = await completed_visit_invoice(env, practitioner=doctor)
    assert invoice["subtotal"] == "1500.00"


@pytest.mark.parametrize(("prior", "percent", "discount"), [(10, 10, "150.00"), (11, 10, "150.00")])
async def test_the_loyalty_discount_is_capped_at_ten_percent(env, prior, percent, discount):
    patient = await make_patient(env)
    await complete_prior_visits(env, patient, prior)
    invoice = await completed_visit_invoice(env, patient=patient, experience_years=26)
    assert (invoice["discount_percent"], invoice["discount_amount"]) == (percent, discount)
    assert (invoice["tax_amount"], invoice["total"]) == ("162.00", "1512.00")  # (1500 - 150) * 12 %


async def test_visits_completed_later_but_started_before_count_as_prior(env):
    patient = await make_patient(env)
    doctor = await make_practitioner(env, specialty="cardiology", practice_start_date=practice_start(26))
    other = await make_practitioner(env, specialty="dermatology")
    day = next_working_day(env)
    early, late = (datetime.combine(day, time(h), tzinfo=T0.tzinfo) for h in (9, 11))
    first = await make_appointment(env, patient_id=patient["id"], practitioner_id=other["id"], start=early)
    priced = await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"], start=late)
    # The visit being priced is completed first; the earlier one after it: it still counts.
    await complete(env, priced["id"], late, late + timedelta(minutes=30))
    await complete(env, first["id"], early, early + timedelta(minutes=30))
    await env.drain()
    assert (await invoice_of(env, priced["id"]))["discount_percent"] == 1
    assert (await invoice_of(env, first["id"]))["discount_percent"] == 0  # the visit never counts itself


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(20, 1), (60, 1), (70, 1), (71, 2), (5 * 60 + 10, 5), (5 * 60 + 11, 6)],
)
async def test_general_consultations_bill_started_hours_after_ten_minutes_at_least_one(env, minutes, hours):
    doctor = await make_practitioner(env, specialty="dermatology")
    invoice = await completed_visit_invoice(env, practitioner=doctor, insured=False, minutes=minutes)
    line = invoice["lines"][0]
    assert (line["code"], line["quantity"], line["unit_price"]) == ("CONSULT-GENERAL", hours, "200.00")
    assert invoice["subtotal"] == line["amount"] == f"{200 * hours}.00"
    assert (invoice["insurance_amount"], invoice["patient_amount"]) == ("0.00", invoice["total"])


async def test_a_specialty_tariff_replaces_the_general_one_and_its_tax_rate_applies(env):
    await make_tariff(
        env,
        code="CONSULT-DERMATOLOGY",
        kind="consultation",
        specialty="dermatology",
        pricing=bands("700.00", "900.00", "1100.00"),
        tax_rate="0.05",
    )
    doctor = await make_practitioner(env, specialty="dermatology", practice_start_date=practice_start(25))
    invoice = await completed_visit_invoice(env, practitioner=doctor, insured=False)
    assert (invoice["lines"][0]["code"], invoice["subtotal"]) == ("CONSULT-DERMATOLOGY", "900.00")
    assert (invoice["tax_rate"], invoice["tax_amount"], invoice["total"]) == ("0.05", "45.00", "945.00")


async def test_tariff_changes_apply_to_later_invoices_only(env):
    first = await completed_visit_invoice(env, experience_years=26)
    response = await env.client.patch(
        "/api/v1/tariffs/CONSULT-CARDIOLOGY",
        json={"pricing": bands("1100.00", "1600.00", "2100.00")},
        headers=env.admin,
    )
    assert response.status_code == 200, response.text
    second = await completed_visit_invoice(env, experience_years=26)
    assert (first["subtotal"], second["subtotal"]) == ("1500.00", "1600.00")
    reread = await env.client.get(f"/api/v1/invoices/{first['id']}", headers=env.admin)
    assert reread.json()["subtotal"] == "1500.00"


async def test_the_configured_tax_rate_and_coverage_apply(make_env):
    async with make_env(billing={"tax_rate": "0.18", "default_coverage_percent": "80"}) as env:
        invoice = await completed_visit_invoice(env, experience_years=26)
        assert figures(invoice) == ("1500.00", "0", "0.00", "270.00", "1770.00", "1416.00", "354.00")
        assert (invoice["tax_rate"], invoice["coverage_percent"]) == ("0.18", "80.00")


async def test_full_coverage_leaves_nothing_for_the_patient_and_the_invoice_is_paid(make_env):
    async with make_env(billing={"default_coverage_percent": "100"}) as env:
        invoice = await completed_visit_invoice(env, experience_years=26)
        assert (invoice["patient_amount"], invoice["balance_due"], invoice["status"]) == ("0.00", "0.00", "paid")
        assert invoice["paid_at"] == invoice["issued_at"]
        assert [p["invoice_id"] for p in await outbox_payloads(env, "invoice.paid")] == [invoice["id"]]


async def test_invoice_issued_event_carries_the_figures(env):
    invoice = await completed_visit_invoice(env, experience_years=26)
    [payload] = await outbox_payloads(env, "invoice.issued")
    assert payload == {
        "invoice_id": invoice["id"],
        "number": invoice["number"],
        "patient_id": invoice["patient_id"],
        "appointment_id": invoice["appointment_id"],
        "order_id": None,
        "subtotal": "1500.00",
        "discount_amount": "0.00",
        "tax_amount": "180.00",
        "total": "1680.00",
        "insurance_amount": "1512.00",
        "patient_amount": "168.00",
        "balance_due": "168.00",
        "currency": "INR",
        "issued_at": invoice["issued_at"],
        "kind": "consultation",
        "premium_billing_id": None,
    }
