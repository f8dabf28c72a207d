"""Who is calling: access-token verification and the principal every use case receives."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from caremesh.platform.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "caremesh"


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    roles: frozenset[str]
    session_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None

    @property
    def is_patient_only(self) -> bool:
        """A patient-role user without any staff role: confined to their own records."""
        return self.roles == frozenset({"patient"})

    def may_see_patient(self, patient_id: uuid.UUID) -> bool:
        return not self.is_patient_only or self.patient_id == patient_id


class TokenSigner:
    def __init__(self, secret: str, access_ttl_seconds: int) -> None:
        self._secret = secret
        self.access_ttl_seconds = access_ttl_seconds

    def digest(self, purpose: str, data: bytes) -> str:
        """HMAC-SHA256 of `data` under a key derived from the secret for `purpose` (hex): a digest of a
        request that cannot be used to test guesses of what it held."""
        key = hmac.new(self._secret.encode(), purpose.encode(), hashlib.sha256).digest()
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def issue_access_token(self, *, user_id: uuid.UUID, session_id: uuid.UUID, roles: list[str], now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "sid": str(session_id),
            "roles": sorted(roles),
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.access_ttl_seconds)).timestamp()),
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify_access_token(self, token: str, *, now: datetime) -> tuple[uuid.UUID, uuid.UUID]:
        """Returns (user id, session id) of a valid access token, else raises UNAUTHENTICATED."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "sid"], "verify_exp": False, "verify_iat": False},
            )
            if claims.get("typ") != "access":
                raise jwt.InvalidTokenError("not an access token")
            if int(claims["exp"]) <= int(now.timestamp()):
                raise jwt.ExpiredSignatureError("expired")
            return uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
        except (jwt.PyJWTError, ValueError, KeyError) as error:
            raise Unauthenticated("The access token is missing, expired or invalid.") from error
