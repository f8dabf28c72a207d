"""Pure rules of identity: the password policy, token digests and the lockout window."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128

# Common passwords long enough to pass the length rule; shorter ones fail on length already.
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "password12345",
        "password123!",
        "passw0rd1234",
        "p@ssword1234",
        "p@ssw0rd1234",
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "123123123123",
        "012345678901",
        "111111111111",
        "000000000000",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "abcdefghijklm",
        "abc123abc123",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwertyuiopas",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "qazwsxedcrfv",
        "zaq12wsxcde3",
        "asdfghjkl123",
        "iloveyou1234",
        "iloveyou12345",
        "letmein12345",
        "welcome12345",
        "welcome@1234",
        "changeme1234",
        "changeme123!",
        "admin1234567",
        "adminadmin12",
        "administrator",
        "administrator1",
        "trustno1trustno1",
        "sunshine1234",
        "football1234",
        "baseball1234",
        "princess1234",
        "dragon123456",
        "monkey123456",
        "superman1234",
        "starwars1234",
        "michael12345",
        "jennifer1234",
        "computer1234",
        "internet1234",
        "whatever1234",
        "hospital1234",
        "caremesh1234",
        "doctor123456",
        "patient12345",
        "correcthorsebatterystaple",
        "secretpassword",
        "mypassword123",
        "passwordpassword",
        "password1password1",
        "hello1234567",
        "summer202612",
        "winter202612",
        "spring202612",
        "autumn202612",
    }
)


def password_problems(password: str, email: str | None) -> list[str]:
    """Why a password is refused, or nothing when it is acceptable."""
    problems: list[str] = []
    lowered = password.lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if email:
        address = email.strip().lower()
        if lowered in {address, address.split("@", 1)[0]}:
            problems.append("must not be the email address")
    if lowered in COMMON_PASSWORDS or len(set(password)) <= 2:
        problems.append("is too common")
    return problems


def new_secret_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    window: timedelta
    duration: timedelta


@dataclass(frozen=True)
class FailureOutcome:
    recent_failures: list[datetime]
    locked_until: datetime | None


def record_failure(policy: LockoutPolicy, now: datetime, recent_failures: list[datetime]) -> FailureOutcome:
    """One more failed login. The account locks when `threshold` failures fall within any window of
    `window` length (a sliding window); locking starts the count afresh."""
    recent = [at for at in recent_failures if now - at < policy.window] + [now]
    if len(recent) >= policy.threshold:
        return FailureOutcome([], now + policy.duration)
    return FailureOutcome(recent[-policy.threshold :], None)
