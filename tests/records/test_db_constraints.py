"""The database refuses what the API refuses (closed vocabularies, each type's fields, physiological bounds) and never
lets a written version change, on SQLite as on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from caremesh.records.models import MedicalRecord, MedicalRecordVersion
from tests.builders.records import make_encounter, make_record, note

NOW = datetime(2030, 1, 7, 9, tzinfo=UTC)


async def write(env, statement) -> None:
    async with env.db.engine.begin() as connection:
        await connection.execute(statement)


def row(**overrides: Any) -> dict[str, Any]:
    values = {
        "id": uuid.uuid4(),
        "version": 1,
        "patient_id": uuid.uuid4(),
        "type": "vital_signs",
        "status": "current",
        "recorded_at": NOW,
        "created_at": NOW,
        "measured_at": NOW,
        "heart_rate": 72,
    }
    return {**values, **overrides}


async def test_a_valid_row_is_accepted(env):
    await write(env, insert(MedicalRecord).values(**row()))
    assert await env.count("medical_records") == 1


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"heart_rate": 19}, "heart_rate_in_bounds"),
        ({"heart_rate": 301}, "heart_rate_in_bounds"),
        ({"spo2": 49}, "spo2_in_bounds"),
        ({"temperature_c": 45.1}, "temperature_c_in_bounds"),
        ({"weight_kg": 0.1}, "weight_kg_in_bounds"),
        ({"systolic_bp": 100, "diastolic_bp": 100}, "diastolic_below_systolic"),
        ({"heart_rate": None}, "vital_signs_complete"),
        ({"type": "x-ray"}, "type_known"),
        ({"status": "draft"}, "status_known"),
        ({"type": "note", "text": ""}, "note_complete"),
        ({"type": "procedure", "code": "9921", "quantity": 1}, "procedure_complete"),
        ({"type": "procedure", "code": "99213", "quantity": 0}, "procedure_complete"),
        ({"type": "diagnosis", "code": "I10", "clinical_status": "active"}, "diagnosis_complete"),  # no description
        ({"type": "allergy", "substance": "Latex", "severity": "fatal"}, "severity_known"),
        ({"status": "entered_in_error"}, "retracted_iff_in_error"),
    ],
)
async def test_the_database_refuses_what_the_api_refuses(env, overrides, constraint):
    with pytest.raises(IntegrityError) as caught:
        await write(env, insert(MedicalRecord).values(**row(**overrides)))
    assert constraint in str(caught.value).lower()


async def test_a_written_version_is_never_changed_nor_deleted(env):
    visit = await make_encounter(env)
    record = await make_record(env, visit["patient"]["id"], note(text="as written"))
    key = uuid.UUID(record["id"])
    with pytest.raises(DBAPIError, match="written once"):
        await write(env, update(MedicalRecordVersion).where(MedicalRecordVersion.record_id == key).values(text="x"))
    with pytest.raises(DBAPIError, match="written once"):
        await write(env, delete(MedicalRecordVersion).where(MedicalRecordVersion.record_id == key))
    assert await env.count("medical_record_versions", "text = 'as written'") == 1
