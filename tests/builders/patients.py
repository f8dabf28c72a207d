from __future__ import annotations

import itertools
from typing import Any

_serial = itertools.count(1)


def patient_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body: dict[str, Any] = {
        "first_name": "Asha",
        "last_name": f"Rao{n}",
        "date_of_birth": "1985-04-12",
        "gender": "female",
        "phone": "+919812345678",
        "email": f"asha{n}@example.org",
    }
    body.update(overrides)
    return body


async def make_patient(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    response = await env.client.post("/api/v1/patients", json=patient_body(**overrides), headers=headers or env.admin)
    assert response.status_code == 201, response.text
    return response.json()
