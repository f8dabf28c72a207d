"""Metrics describe requests without carrying identifiers."""

from __future__ import annotations


async def test_request_metrics_are_labelled_with_the_full_route_template(env):
    from tests.builders.patients import make_patient

    patient = await make_patient(env)
    await env.client.get(f"/api/v1/patients/{patient['id']}", headers=env.admin)
    metrics = (await env.client.get("/metrics")).text
    assert 'route="/api/v1/patients/{patient_id}"' in metrics
    assert patient["id"] not in metrics  # ids never become label values
