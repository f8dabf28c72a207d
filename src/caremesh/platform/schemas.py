"""Shared request types: the strict base every request schema extends, a phone number and an email address."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator
from pydantic.networks import validate_email

from caremesh.platform.errors import invalid_field


class Strict(BaseModel):
    """Unknown fields and NUL characters are refused with a 422."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text and SQLite would; refusing it keeps both the same.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class NotClearable:
    """`json_schema_extra` of a PATCH model (`not_clearable(...)`): these fields may be left out but not sent as
    `null`, which `changes_of` refuses ("cannot be cleared"); the published schema says so too."""

    def __init__(self, *fields: str) -> None:
        self.fields = fields

    def __call__(self, schema: dict[str, Any]) -> None:
        for name in self.fields:
            prop = schema.get("properties", {}).get(name, {})
            kept = [option for option in prop.get("anyOf", ()) if option.get("type") != "null"]
            if len(kept) == 1:
                del prop["anyOf"]
                prop.update(kept[0])
            elif kept:
                prop["anyOf"] = kept
            if prop.get("default", ...) is None:
                del prop["default"]


not_clearable = NotClearable


def changes_of(patch: BaseModel) -> dict[str, Any]:
    """What a PATCH body sets, field by field; a 422 for a field its model declares `not_clearable` sent as null."""
    changes = patch.model_dump(exclude_unset=True)
    declared = patch.model_config.get("json_schema_extra")
    for field in declared.fields if isinstance(declared, NotClearable) else ():
        if field in changes and changes[field] is None:
            raise invalid_field(field, "cannot be cleared")
    return changes


_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"^\+?[1-9][0-9]{6,14}$")  # ASCII digits only: \d would take any script's


def _normalise_phone(value: str) -> str:
    compact = _PHONE_SEPARATORS.sub("", value)
    if not _PHONE.match(compact):
        raise ValueError("phone must be E.164-like: an optional +, then 7 to 15 digits")
    return compact


# E.164-like: spaces, dots, dashes and brackets are dropped, then `+` and 7 to 15 digits remain.
Phone = Annotated[
    str, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v), AfterValidator(_normalise_phone)
]


# Private-use mail domains hospitals run (`.local`, RFC 6762; `.home.arpa`, RFC 8375). email-validator refuses
# them as special-use because they are not deliverable on the internet; the clinic's own mail relay delivers
# them. They are checked as a public name of the same length, so every other rule of the syntax still applies.
_PRIVATE_MAIL_SUFFIXES = {".local": ".zzzzz", ".home.arpa": ".home.zzzz"}


def _validate_email(value: str) -> str:
    address = value.strip()
    for suffix, stand_in in _PRIVATE_MAIL_SUFFIXES.items():
        if address.lower().endswith(suffix) and "@" in address:
            _, normalised = validate_email(address[: -len(suffix)] + stand_in)
            return normalised[: -len(stand_in)] + suffix
    return validate_email(address)[1]


# An email address (syntax only, no DNS lookup), normalised; intranet domains such as `ward.hospital.local` too.
Email = Annotated[
    str,
    Field(max_length=254, json_schema_extra={"format": "email"}),
    AfterValidator(_validate_email),
]


# A catalogue entry's code (a tariff's, a plan's, a lab test's, a study's, a medication's): trimmed, upper-cased.
CatalogueCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,39}$"),
    Field(description="Upper-case letters, digits, `-` and `_`, up to 40 characters"),
]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Address(Strict):
    """A postal address: a patient's, a facility's."""

    line1: Text200
    line2: Text200 | None = None
    city: Text100
    state: Text100
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    country: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=56)]
