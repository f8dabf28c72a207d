from __future__ import annotations

import itertools
import random
from typing import Any

_serial = itertools.count(random.randrange(10_000_000, 90_000_000))


def npi_check_digit(base: str) -> str:
    """The Luhn check digit over 80840 + the 9-digit base (written independently of the code under test)."""
    digits = [int(c) for c in "80840" + base]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 0:  # rightmost payload digit is doubled once a check digit is appended
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return str((10 - total % 10) % 10)


def new_npi() -> str:
    base = f"{next(_serial):09d}"
    return base + npi_check_digit(base)


def practitioner_body(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    body: dict[str, Any] = {
        "first_name": "Meera",
        "last_name": f"Iyer{n}",
        "npi": new_npi(),
        "specialty": "cardiology",
        "practice_start_date": "2015-06-01",
        "phone": "+919800000001",
        "email": f"meera{n}@clinic.example.org",
    }
    body.update(overrides)
    return body


async def make_practitioner(env: Any, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    response = await env.client.post(
        "/api/v1/practitioners", json=practitioner_body(**overrides), headers=headers or env.admin
    )
    assert response.status_code == 201, response.text
    return response.json()
