"""The smallest servers that answer like caremesh does, to measure what this machine's HTTP stack allows at all
(ceiling.py). Chosen by CEILING_APP: `asgi` (no framework), `fastapi` (a declared response model), `asyncpg`
(FastAPI and one patient row read through the driver in a transaction), `sqlalchemy` (the same row through an
AsyncSession, as caremesh reads it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Date, String, Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DSN = os.environ.get("CEILING_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = os.environ.get("CEILING_TABLE", "ceiling_patients")
POOL = int(os.environ.get("CEILING_POOL", "16"))
BODY = b'{"id":"00000000-0000-0000-0000-000000000000","first_name":"Bench","last_name":"Reader"}'


class PatientRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date


class Base(DeclarativeBase):
    pass


class Patient(Base):
    __tablename__ = TABLE
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)


async def asgi(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/patients/{patient_id}")
    async def read(patient_id: uuid.UUID) -> PatientRead:
        return PatientRead(id=patient_id, first_name="Bench", last_name="Reader", date_of_birth=date(1980, 1, 1))

    return app


def asyncpg_app() -> FastAPI:
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(DSN, min_size=POOL, max_size=POOL)
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)
    query = f"SELECT id, first_name, last_name, date_of_birth FROM {TABLE} WHERE id = $1"

    @app.get("/patients/{patient_id}")
    async def read(patient_id: uuid.UUID) -> PatientRead:
        async with state["pool"].acquire() as connection, connection.transaction():
            row = await connection.fetchrow(query, patient_id)
        return PatientRead(**dict(row))

    return app


def sqlalchemy_app() -> FastAPI:
    engine = create_async_engine(DSN.replace("postgresql://", "postgresql+asyncpg://"), pool_size=POOL)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    by_id = select(Patient).where(Patient.id == bindparam("key"))
    app = FastAPI()

    @app.get("/patients/{patient_id}")
    async def read(patient_id: uuid.UUID) -> PatientRead:
        session: AsyncSession
        async with sessions() as session, session.begin():
            patient = await session.scalar(by_id, {"key": patient_id})
        return PatientRead.model_validate(patient, from_attributes=True)

    return app


def app():  # type: ignore[no-untyped-def]
    """The uvicorn factory."""
    kind = os.environ.get("CEILING_APP", "fastapi")
    return {"asgi": lambda: asgi, "fastapi": fastapi_app, "asyncpg": asyncpg_app, "sqlalchemy": sqlalchemy_app}[kind]()
