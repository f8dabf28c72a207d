"""Demo data for `make run`: practitioners of several specialties, patients, users, appointments, and
one visit already recorded (a diagnosis, vital signs, an ECG), completed, invoiced, partly paid and claimed from
the first patient's insurer.

Seeded through the public HTTP API (in process), so it obeys every rule a client would. The demo
logins are generated on first seed, kept in a local file that git ignores, and printed at start.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from caremesh.platform import permissions
from caremesh.platform.settings import Settings, npi_check_digit
from caremesh.platform.timeutil import clinic_timezone

CREDENTIALS_FILE = Path(".caremesh-demo.json")
DOMAIN = "clinic.example.org"
API = "/api/v1"

PRACTITIONERS = [
    ("Meera", "Iyer", "cardiology", 26),
    ("Arjun", "Menon", "cardiology", 8),
    ("Kavya", "Nair", "orthopedics", 31),
    ("Rohan", "Das", "general_practice", 12),
    ("Ishita", "Kapoor", "pediatrics", 5),
    ("Vikram", "Singh", "dermatology", 20),
    ("Leela", "Raman", "neurology", 15),
]
# The departments of the facility the first start created, and which specialties each holds.
DEPARTMENTS = (
    ("CARDIO", "Cardiology", {"cardiology"}),
    ("ORTHO", "Orthopaedics", {"orthopedics"}),
    ("OPD", "Outpatients", {"general_practice", "pediatrics", "dermatology", "neurology"}),
    ("RAD", "Radiology", set()),
)
PATIENTS = [
    ("Anil", "Kumar", "1972-03-14", "male", {"bin": "610014", "pcn": "CAREPCN", "member_id": "MBR10001"}),
    ("Priya", "Sharma", "1988-11-02", "female", None),
    ("Sameer", "Joshi", "1995-06-21", "male", {"bin": "004336", "pcn": "ADV", "member_id": "MBR10002"}),
    ("Neha", "Gupta", "2012-09-30", "female", None),
    ("Farah", "Khan", "1960-01-08", "female", {"bin": "610014", "pcn": "CAREPCN", "member_id": "MBR10003"}),
    ("Joseph", "Thomas", "1979-07-17", "male", None),
]
ROLES = permissions.ROLES  # a demo login for every role


def npi_with_check_digit(first_nine: str) -> str:
    """Complete a 9-digit NPI stem with its Luhn check digit."""
    return first_nine + npi_check_digit(first_nine)


@dataclass
class DemoCredentials:
    passwords: dict[str, str]

    def email(self, role: str) -> str:
        return f"{role.replace('_', '.')}@{DOMAIN}"

    def rows(self) -> list[tuple[str, str, str]]:
        return [(role, self.email(role), self.passwords[role]) for role in ROLES]

    def user(self, role: str, **links: Any) -> dict[str, Any]:
        """The body of `POST /users` for the demo user of `role`; `links` add patient_id or practitioner_id."""
        return {
            "email": self.email(role),
            "password": self.passwords[role],
            "full_name": f"Demo {role.replace('_', ' ')}",
            "roles": [role],
            **links,
        }


def load_or_create_credentials(path: Path = CREDENTIALS_FILE) -> DemoCredentials:
    """The demo logins of the file, generating (and keeping) a password for every role it lacks."""
    passwords = json.loads(path.read_text())["passwords"] if path.exists() else {}
    missing = [role for role in ROLES if role not in passwords]
    if missing:
        passwords.update({role: f"demo-{secrets.token_urlsafe(9)}" for role in missing})
        path.touch(mode=0o600)
        path.write_text(json.dumps({"passwords": passwords}, indent=2))
        os.chmod(path, 0o600)
    return DemoCredentials(passwords=passwords)


def _next_weekdays(today: date, count: int) -> list[date]:
    days, day = [], today
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


async def seed(settings: Settings, credentials: DemoCredentials) -> bool:
    """Fill an empty database with demo data. Returns False when it already holds practitioners."""
    from caremesh.app import create_app

    quiet = Settings(
        app=settings.app.model_copy(update={"log_level": "WARNING"}),
        db=settings.db,
        security=settings.security,
        messaging=settings.messaging,
        billing=settings.billing,
        payments=settings.payments,
        notifications=settings.notifications,
        orders=settings.orders,
        clinic=settings.clinic,
        claims=settings.claims,
    )
    app = create_app(quiet)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return await _seed(client, credentials)


MEDICATION_FIELDS = ("code", "name", "unit", "unit_price", "stock_quantity")
MEDICATIONS = (
    ("AMOX-500", "Amoxicillin 500 mg", "capsule", "6.40", 500),
    ("PARA-650", "Paracetamol 650 mg", "tablet", "1.80", 1000),
    ("ATOR-10", "Atorvastatin 10 mg", "tablet", "4.25", 5),
)
LAB_TEST_FIELDS = ("code", "name", "loinc", "price", "daily_capacity")
LAB_TESTS = (
    ("CBC", "Complete blood count", "58410-2", "350.00", 40),
    ("HBA1C", "Haemoglobin A1c", "4548-4", "520.00", 20),
)
IMAGING_STUDY_FIELDS = ("code", "name", "modality", "price", "daily_capacity")
IMAGING_STUDIES = (
    ("XR-CHEST-PA", "Chest X-ray, PA view", "XR", "650.00", 30),
    ("US-ABDOMEN", "Ultrasound, abdomen", "US", "1400.00", 12),
)


# The demo visit's procedure: a 12-lead ECG, priced by a `procedure` tariff of its CPT code.
ECG = {"code": "93000", "description": "Electrocardiogram, 12-lead, with report", "kind": "procedure"}
ECG_PRICE = {"type": "flat", "amount": "350.00"}


async def _record_visit(
    client: httpx.AsyncClient, credentials: DemoCredentials, admin: dict[str, str], visit: dict[str, Any]
) -> None:
    """What is recorded in the demo visit: the nurse's vital signs, the doctor's diagnosis and procedure (priced by
    its tariff, which the admin adds first); its invoice then bills the procedure and its claim carries both."""
    await _call(client, "POST", "/tariffs", admin, json={**ECG, "pricing": ECG_PRICE})
    encounter = {"patient_id": visit["patient_id"], "appointment_id": visit["id"]}
    vitals = {
        "type": "vital_signs",
        "measured_at": datetime.now(UTC).isoformat(),
        "heart_rate": 78,
        "systolic_bp": 148,
        "diastolic_bp": 94,
        "spo2": 98,
    }
    nurse = await _signed_in(client, credentials, "nurse")
    doctor = await _signed_in(client, credentials, "doctor")
    diagnosis = {"type": "diagnosis", "code": "I10", "clinical_status": "active"}
    procedure = {"type": "procedure", "code": ECG["code"], "quantity": 1}
    for author, entry in ((nurse, vitals), (doctor, diagnosis), (doctor, procedure)):
        await _call(client, "POST", "/medical-records", author, json={**encounter, **entry})


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    response = await client.request(method, API + path, headers=headers, **kw)
    if response.status_code >= 400:
        raise RuntimeError(f"demo seed: {method} {path} -> {response.status_code} {response.text}")
    return response.json() if response.content else None


# Demo users that need no patient or practitioner behind them, added to a database seeded by an older demo.
UNLINKED_STAFF = tuple(role for role in ROLES if role not in {"admin", "doctor", "patient"})


async def _add_missing_staff(client: httpx.AsyncClient, credentials: DemoCredentials, admin: dict[str, str]) -> None:
    for role in UNLINKED_STAFF:
        response = await client.post(f"{API}/users", json=credentials.user(role), headers=admin)
        if response.status_code not in (201, 409):  # 409: the user is there already
            raise RuntimeError(f"demo seed: POST /users -> {response.status_code} {response.text}")


async def _signed_in(client: httpx.AsyncClient, credentials: DemoCredentials, role: str) -> dict[str, str]:
    """The headers of the demo user of `role`, logged in."""
    login = await client.post(
        f"{API}/auth/login", json={"email": credentials.email(role), "password": credentials.passwords[role]}
    )
    if login.status_code != 200:
        hint = "; is CAREMESH_ADMIN_EMAIL set to another account?" if role == "admin" else ""
        raise RuntimeError(f"demo seed: the demo {role} cannot log in{hint}")
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _seed(client: httpx.AsyncClient, credentials: DemoCredentials) -> bool:
    admin = await _signed_in(client, credentials, "admin")
    existing = await _call(client, "GET", "/practitioners?limit=1", admin)
    if existing["items"]:
        await _add_missing_staff(client, credentials, admin)
        return False

    today = datetime.now(clinic_timezone()).date()
    facility = (await _call(client, "GET", "/facilities?limit=1", admin))["items"][0]
    department_of = {}
    for code, name, specialties in DEPARTMENTS:
        body = {"facility_id": facility["id"], "code": code, "name": name}
        department = await _call(client, "POST", "/departments", admin, json=body)
        department_of |= dict.fromkeys(specialties, department["id"])
    practitioners = []
    for index, (first, last, specialty, years) in enumerate(PRACTITIONERS):
        started = date(today.year - years, 1 + index % 12, 1 + index)
        body = {
            "first_name": first,
            "last_name": last,
            "npi": npi_with_check_digit(f"1{index:02d}{secrets.randbelow(10**6):06d}"),
            "specialty": specialty,
            "practice_start_date": started.isoformat(),
            "department_id": department_of[specialty],
        }
        practitioners.append(await _call(client, "POST", "/practitioners", admin, json=body))

    patients = []
    for first, last, born, gender, insurance in PATIENTS:
        body = {
            "first_name": first,
            "last_name": last,
            "date_of_birth": born,
            "gender": gender,
            "phone": f"+9198{secrets.randbelow(10**8):08d}",
            "email": f"{first.lower()}.{last.lower()}@example.org",
            "insurance": insurance,
        }
        patients.append(await _call(client, "POST", "/patients", admin, json=body))

    for role in ROLES:
        body = credentials.user(
            role,
            patient_id=patients[0]["id"] if role == "patient" else None,
            practitioner_id=practitioners[0]["id"] if role == "doctor" else None,
        )
        if role != "admin":
            await _call(client, "POST", "/users", admin, json=body)

    booked = []
    for day_index, day in enumerate(_next_weekdays(today, 3)):
        for index, practitioner in enumerate(practitioners[:4]):
            slots = await _call(
                client, "GET", f"/practitioners/{practitioner['id']}/availability?date={day}&duration_minutes=30", admin
            )
            if not slots["slots"]:
                continue
            slot = slots["slots"][(index * 3 + day_index) % len(slots["slots"])]
            patient = patients[(index + day_index) % len(patients)]
            body = {
                "patient_id": patient["id"],
                "practitioner_id": practitioner["id"],
                "start": slot["start"],
                "duration_minutes": 30,
                "reason": "Follow-up consultation",
            }
            booked.append(await _call(client, "POST", "/appointments", admin, json=body))

    # The first patient's insurer, scheme (benefits, premium rates) and coverage, sold by an agent, so their visit's
    # invoice is split by the scheme and the month's premium run bills them.
    payer = await _call(
        client, "POST", "/payers", admin, json={"code": "CAREPLUS", "name": "CarePlus Health", "bin": "610014"}
    )
    scheme = await _call(
        client,
        "POST",
        "/schemes",
        admin,
        json={"payer_id": payer["id"], "code": "GOLD", "name": "CarePlus Gold", "status": "active"},
    )
    for category, percent, deductible in (("consultation", "80.00", "0.00"), ("pharmacy", "70.00", "200.00")):
        benefit = {
            "category": category,
            "coverage_percent": percent,
            "copay_amount": "0.00",
            "deductible": deductible,
            "annual_limit": "50000.00",
            "requires_preauth": False,
        }
        await _call(client, "POST", f"/schemes/{scheme['id']}/benefits", admin, json=benefit)
    for min_age, max_age, premium in ((0, 17, "450.00"), (18, 59, "900.00"), (60, None, "1600.00")):
        rate = {"min_age": min_age, "max_age": max_age, "monthly_premium": premium}
        await _call(client, "POST", f"/schemes/{scheme['id']}/premium-rates", admin, json=rate)
    agent = {"code": "AG-001", "name": "Priya Nair", "commission_percent": "5.00"}
    agent_id = (await _call(client, "POST", "/agents", admin, json=agent))["id"]
    coverage = {
        "patient_id": patients[0]["id"],
        "scheme_id": scheme["id"],
        "member_id": "MBR10001",
        "valid_from": date(today.year, 1, 1).isoformat(),
        "agent_id": agent_id,
    }
    await _call(client, "POST", "/coverages", admin, json=coverage)

    # The first visit seen early: completed, invoiced (201, or 200 if billing's consumer was first), partly paid,
    # and claimed from the insurer: submitted and adjudicated, waiting for the payer's remittance.
    visit = booked[0]
    await _record_visit(client, credentials, admin, visit)
    await _call(client, "POST", f"/appointments/{visit['id']}/complete", admin)
    invoice = await _call(client, "POST", "/invoices", admin, json={"appointment_id": visit["id"]})
    if invoice["status"] in {"issued", "partially_paid"}:
        part = str(min(Decimal("100.00"), Decimal(invoice["balance_due"])))
        await _call(
            client,
            "POST",
            "/payments",
            {**admin, "Idempotency-Key": f"demo-{invoice['id']}"},
            json={"invoice_id": invoice["id"], "amount": part, "method": "cash"},
        )
    if Decimal(invoice["insurance_amount"]) > 0:
        claim = await _call(client, "POST", "/claims", admin, json={"invoice_id": invoice["id"]})
        await _call(client, "POST", f"/claims/{claim['id']}/submit", admin)
        await _call(client, "POST", f"/claims/{claim['id']}/process", admin)

    # A pharmacy and a lab to order from, and a prescription on its way through the saga.
    medications = [
        await _call(client, "POST", "/medications", admin, json=dict(zip(MEDICATION_FIELDS, row, strict=True)))
        for row in MEDICATIONS
    ]
    for row in LAB_TESTS:
        await _call(client, "POST", "/lab-tests", admin, json=dict(zip(LAB_TEST_FIELDS, row, strict=True)))
    order = {
        "patient_id": patients[0]["id"],
        "practitioner_id": practitioners[0]["id"],
        "type": "prescription",
        "items": [
            {"medication_id": medications[0]["id"], "quantity": 15, "dosage": "1 capsule three times a day"},
            {"medication_id": medications[1]["id"], "quantity": 10, "dosage": "1 tablet when needed"},
        ],
    }
    await _call(client, "POST", "/orders", admin, json=order)
    # A radiology department, and a chest X-ray ordered for the same patient.
    studies = [
        await _call(client, "POST", "/imaging-studies", admin, json=dict(zip(IMAGING_STUDY_FIELDS, row, strict=True)))
        for row in IMAGING_STUDIES
    ]
    imaging = {**order, "type": "imaging", "items": [{"imaging_study_id": studies[0]["id"]}]}
    await _call(client, "POST", "/orders", admin, json=imaging)
    return True
