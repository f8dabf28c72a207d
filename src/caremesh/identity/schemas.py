from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from caremesh.identity.domain import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from caremesh.platform.permissions import ROLES
from caremesh.platform.schemas import Email, Phone, Strict, not_clearable
from caremesh.platform.timeutil import OutDateTime

Role = Literal[ROLES]  # type: ignore[valid-type]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
# The policy's length bounds are published here; the service checks them (and the rest) with WEAK_PASSWORD.
NewPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        json_schema_extra={"minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH},
        description="At least 12 characters, not the email, not a common password (else 422 WEAK_PASSWORD)",
    ),
]


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshRequest(Strict):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class ChangePasswordRequest(Strict):
    current_password: Password
    new_password: NewPassword


class PasswordResetRequest(Strict):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]


class PasswordResetConfirm(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: NewPassword


def _unique_roles(roles: list[str]) -> list[str]:
    if not roles:
        raise ValueError("at least one role is required")
    return sorted(set(roles))


class UserCreate(Strict):
    email: Email
    password: NewPassword
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    roles: list[Role]
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None

    _roles = field_validator("roles")(_unique_roles)


class UserUpdate(Strict):
    full_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    roles: list[Role] | None = None
    active: bool | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[str] | None) -> list[str] | None:
        return None if roles is None else _unique_roles(roles)


class UserRead(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    roles: list[str]
    patient_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    active: bool = Field(validation_alias="is_active")
    locked_until: OutDateTime | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OneTimeToken = Annotated[str, Field(min_length=1, max_length=200)]


class ProfileRead(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    phone: str | None
    roles: list[str]
    patient_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    version: int
    created_at: OutDateTime
    updated_at: OutDateTime


class ProfileUpdate(Strict):
    """Only the fields sent change; `phone: null` clears the phone number. Email and roles are the admin's."""

    model_config = ConfigDict(json_schema_extra=not_clearable("full_name"))

    full_name: FullName | None = None
    phone: Phone | None = Field(None, description="E.164-like: an optional +, then 7 to 15 digits")


class SessionRead(BaseModel):
    id: uuid.UUID
    created_at: OutDateTime
    last_used_at: OutDateTime
    user_agent: str | None
    current: bool


class RegistrationRequest(Strict):
    email: Email
    password: NewPassword
    first_name: PersonName
    last_name: PersonName
    date_of_birth: date


class EmailVerification(Strict):
    token: OneTimeToken
