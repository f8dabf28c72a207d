"""The database refuses impossible stock and reservations by itself, whatever SQL reaches it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import TextClause

from tests.builders.pharmacy import confirm, make_medication, place, quantities, reservations


async def refuses(env, statement: str | TextClause, constraints: set[str], **params) -> None:
    async with env.db.engine.connect() as connection:
        with pytest.raises(IntegrityError) as raised:
            await connection.execute(text(statement) if isinstance(statement, str) else statement, params)
        await connection.rollback()
    message = str(raised.value.orig)
    assert any(name in message for name in constraints), message


@pytest.mark.parametrize(
    ("assignment", "constraints"),
    [
        ("reserved_quantity = stock_quantity + 1", {"reserved_within_stock"}),
        ("stock_quantity = reserved_quantity - 1", {"reserved_within_stock"}),
        ("reserved_quantity = -1", {"reserved_within_stock"}),
        ("stock_quantity = -1, reserved_quantity = 0", {"stock_not_negative", "reserved_within_stock"}),
        ("unit_price = '-0.01'", {"unit_price_not_negative"}),
    ],
)
async def test_stock_never_below_what_is_reserved(env, assignment, constraints):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    await confirm(env, order)

    await refuses(env, f"UPDATE medications SET {assignment} WHERE code = :code", constraints, code=med["code"])

    assert await quantities(env, med["id"]) == (10, 4, 6)


async def test_a_reservation_holds_one_item_with_a_consistent_status(env):
    med = await make_medication(env, stock=10)
    order = await place(env, (med, 4))
    [reservation] = await reservations(env, order_id=order["order_id"])
    where = "WHERE order_id = (SELECT order_id FROM medication_reservations LIMIT 1)"

    await refuses(env, f"UPDATE medication_reservations SET status = 'lost' {where}", {"status_known"})
    await refuses(env, f"UPDATE medication_reservations SET quantity = 0 {where}", {"quantity_positive"})
    await refuses(env, f"UPDATE medication_reservations SET status = 'failed' {where}", {"failure_reason_iff_failed"})
    await refuses(
        env, f"UPDATE medication_reservations SET status = 'dispensed' {where}", {"dispensed_at_iff_dispensed"}
    )
    await refuses(env, f"UPDATE medication_reservations SET status = 'released' {where}", {"released_at_iff_released"})
    copy = text(
        "INSERT INTO medication_reservations (id, order_id, position, patient_id, medication_id, quantity, status,"
        " created_at, updated_at) SELECT :id, order_id, position, patient_id, medication_id, quantity, status,"
        " created_at, updated_at FROM medication_reservations"
    ).bindparams(bindparam("id", type_=Uuid))
    await refuses(
        env, copy, {"uq_medication_reservations_order_id_position", "medication_reservations.order_id"}, id=uuid.uuid4()
    )
    assert (await reservations(env, order_id=order["order_id"])) == [reservation]
