"""The suite-wide check that no statement joins tables of two schemas catches such a join, and only that."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caremesh.billing.models import Invoice
from caremesh.scheduling.models import Appointment
from tests.harness import POSTGRES_URL
from tests.schema_guard import CrossSchemaQuery, check, schemas_named


def test_a_join_of_two_contexts_names_both_schemas_with_or_without_a_prefix():
    join = 'SELECT * FROM cm_7_billing.invoices JOIN "cm_7_scheduling"."appointments" ON 1=1'
    assert schemas_named(join, "cm_7") == {"billing", "scheduling"}
    assert schemas_named("SELECT * FROM billing.invoices JOIN scheduling.appointments ON 1=1", None) == {
        "billing",
        "scheduling",
    }
    with pytest.raises(CrossSchemaQuery):
        check("SELECT 1 FROM billing.invoices, platform.outbox_events", None)


def test_one_schema_columns_and_look_alike_names_pass():
    # `claims.id` is a column of the table claims, `lab_orders` a table whose name ends in a context's name.
    statement = "SELECT claims.claims.id, lab_orders.id FROM claims.claims, lab.lab_orders WHERE claims.id = 1"
    assert schemas_named(statement, None) == {"claims", "lab"}
    assert schemas_named("SELECT claims.claims.id FROM claims.claims WHERE claims.id = 1", None) == {"claims"}
    assert schemas_named("SELECT lab_orders.id FROM cm_7_lab.lab_orders", "cm_7") == {"lab"}
    assert schemas_named("SELECT 1 FROM cm_8_billing.invoices", "cm_7") == set()  # another installation's
    check("SELECT invoices.id FROM billing.invoices JOIN billing.invoice_lines ON true", None)


@pytest.mark.skipif(not POSTGRES_URL, reason="schemas exist on PostgreSQL only")
async def test_the_database_refuses_a_join_across_contexts_while_the_suite_runs(env):
    from tests import schema_guard

    query = select(Invoice.id).join(Appointment, Appointment.id == Invoice.appointment_id)
    async with env.db.engine.connect() as connection:
        with pytest.raises(CrossSchemaQuery):
            await connection.execute(query)
        assert await connection.scalar(select(Invoice.id).limit(1)) is None  # one schema: fine
    assert len(schema_guard.refused) == 1
    schema_guard.refused.clear()  # expected here; any other refusal fails its test
