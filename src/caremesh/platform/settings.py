"""Settings, one class per concern, all read from `CAREMESH_*` environment variables.

The defaults run the embedded mode (SQLite file, in-process events) with no configuration.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _config() -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix="CAREMESH_", extra="ignore")


class AppSettings(BaseSettings):
    model_config = _config()

    timezone: str = "UTC"
    currency: str = "INR"
    # `caremesh events prune` forgets settled Idempotency-Keys (and the responses kept for replay) older than this.
    idempotency_key_retention_days: int = Field(default=7, ge=1)
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatabaseSettings(BaseSettings):
    model_config = _config()

    database_url: str = "sqlite+aiosqlite:///caremesh.db"
    database_echo: bool = False
    database_pool_size: int = 10
    # PostgreSQL only: the schema the tables live in (tests use a throwaway one per run).
    database_schema: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SecuritySettings(BaseSettings):
    model_config = _config()

    jwt_secret: str | None = None
    # Where the embedded mode keeps a generated secret when CAREMESH_JWT_SECRET is not set.
    secret_file: Path = Path(".caremesh-secret")
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 7 * 24 * 3600
    password_reset_ttl_seconds: int = 30 * 60
    admin_email: str | None = None
    admin_password: str | None = None
    lockout_threshold: int = 5
    lockout_window_seconds: int = 15 * 60
    lockout_duration_seconds: int = 15 * 60
    login_rate_limit: str = "10/minute"
    api_rate_limit: str = "600/minute"
    # Rate limits in Redis hold across every process (distributed mode); unset: in process memory.
    redis_url: str | None = None
    redis_namespace: str = "caremesh"
    # Argon2id cost; the defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    # Patients may sign themselves up (POST /auth/register); off: that route answers 404 as if it did not exist.
    self_registration: bool = False
    email_verification_ttl_seconds: int = 24 * 3600

    def signing_secret(self) -> str:
        """The HS256 secret: from settings, else generated once and kept in `secret_file`."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.secret_file
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(value)
        return value


_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class HttpSettings(BaseSettings):
    """The HTTP edge: how large a request body may be, which browser origins may call, who may read /metrics."""

    model_config = _config()

    # Largest request body in bytes (413 PAYLOAD_TOO_LARGE beyond it); an endpoint may declare its own.
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    # Origins of browser apps allowed to call the API, comma-separated (`https://app.example.org,http://localhost:5173`,
    # or `*`); empty: no CORS headers at all.
    cors_origins: Annotated[list[str], NoDecode] = []
    # When set, /metrics answers only `Authorization: Bearer <this token>`; unset, anyone who reaches the port.
    metrics_token: SecretStr | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        origins = [str(origin).strip().rstrip("/") for origin in value if str(origin).strip()]
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.org[:port]")
        return origins

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value


# Deliveries in flight per consumer worker when CAREMESH_CONSUMER_CONCURRENCY is unset, by database dialect.
DEFAULT_CONSUMER_CONCURRENCY = {"sqlite": 4, "postgresql": 4}


class MessagingSettings(BaseSettings):
    model_config = _config()

    relay_poll_seconds: float = 1.0
    relay_batch_size: int = 100
    consumer_max_attempts: int = 5
    consumer_backoff_base_seconds: float = 0.5
    consumer_backoff_max_seconds: float = 60.0
    # Deliveries one consumer worker handles at once (each in its own transaction). Unset: the database's
    # default (`concurrency_for`): 4 on both, measured in docs/DECISIONS.md; SQLite's writers still take turns on
    # its lock, what overlaps is the work around it. Keep it under `database_pool_size` (a connection each).
    consumer_concurrency: int | None = Field(default=None, ge=1, le=64)
    # A handler that says "too early" (TooEarly: the step it follows has not been handled yet) is retried with
    # the same backoff, and dead-lettered only after this many attempts (about 15 minutes with the defaults).
    consumer_max_early_attempts: int = Field(default=20, ge=1)
    # Start the relay and consumer workers inside `caremesh serve` (embedded mode).
    run_workers: bool = True
    # The distributed mode's broker, e.g. nats://127.0.0.1:4222 (NATS JetStream); unset: in-process events.
    broker_url: str | None = None
    # Names the stream (upper-cased) and prefixes every subject, so installations can share one NATS server.
    broker_namespace: str = Field(default="caremesh", pattern=r"^[A-Za-z0-9_-]+$")
    # JetStream drops a second publish of an event id within this window (a relay crash before the mark).
    broker_duplicate_window_seconds: float = Field(default=600.0, ge=600.0)
    # How long the stream keeps an event; the inbox retention (`caremesh events prune`) must exceed it.
    broker_max_age_days: float = Field(default=7.0, gt=0)
    # How long a consumer may hold a message unacknowledged before the broker delivers it again.
    broker_ack_wait_seconds: float = Field(default=30.0, gt=0)
    # Messages of one durable consumer delivered and not yet acked, across every replica: the ones in flight
    # (up to consumer_concurrency per replica) and the ones waiting out a retry's delay (a nak'ed message
    # counts until it is redelivered). Raised to 4 × consumer_concurrency if set below it.
    broker_max_ack_pending: int = Field(default=1000, ge=1)

    def concurrency_for(self, dialect: str) -> int:
        """`consumer_concurrency`, or the default for the database (`sqlite`, `postgresql`)."""
        if self.consumer_concurrency is not None:
            return self.consumer_concurrency
        return DEFAULT_CONSUMER_CONCURRENCY.get(dialect, 4)

    @field_validator("broker_url", mode="before")
    @classmethod
    def _empty_broker_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value


class BillingSettings(BaseSettings):
    model_config = _config()

    # `completed`: invoice when the visit is completed; `booked`: at booking, voided on cancellation.
    bill_on: Literal["completed", "booked"] = "completed"
    # Default tax rate (GST) for tariffs without their own, as a fraction: 0.12 is 12 %.
    tax_rate: Decimal = Decimal("0.12")
    # Share of the total the insurer pays when the patient has insurance identifiers and no scheme says otherwise.
    default_coverage_percent: Decimal = Decimal("90")
    # Tax on insurance premiums billed to members (premium invoices), as a fraction; 0: premiums are not taxed.
    premium_tax_rate: Decimal = Decimal("0")


class PaymentSettings(BaseSettings):
    model_config = _config()

    # The payment gateway adapter; `simulated` approves tok_visa/tok_mastercard, declines tok_declined.
    payment_gateway: Literal["simulated"] = "simulated"
    payment_gateway_timeout_seconds: float = 10.0
    # How long a request waits for a concurrent request with the same Idempotency-Key to finish.
    idempotency_wait_seconds: float = 15.0


class NotificationSettings(BaseSettings):
    model_config = _config()

    # e.g. smtp://user:password@mail.example.org:587?starttls=true; unset: email goes to the log channel.
    smtp_url: str | None = None
    email_from: str = "caremesh <no-reply@caremesh.invalid>"
    # An HTTP endpoint that receives SMS as JSON {to, body}; unset: SMS goes to the log channel.
    sms_webhook_url: str | None = None
    notification_max_attempts: int = 5
    notification_backoff_base_seconds: float = 30.0
    notification_backoff_max_seconds: float = 3600.0
    notification_send_timeout_seconds: float = 10.0
    notification_poll_seconds: float = 1.0
    # The billing office's address: claim messages (and templates for events about no patient) go there;
    # unset: those messages are not sent.
    billing_email: str | None = None


class OrderSettings(BaseSettings):
    model_config = _config()

    # An order still pending this long after it was placed (a step's consumer keeps failing) is failed with
    # SAGA_TIMEOUT, which releases whatever its steps reserved.
    order_saga_timeout_seconds: float = 300.0


class ClinicSettings(BaseSettings):
    """Who the clinic is to payers: the billing provider of every claim (837P loop 2010AA) and its submitter.
    The defaults are valid demo values (NPI with a correct check digit); set your own before sending claims."""

    model_config = SettingsConfigDict(env_prefix="CAREMESH_CLINIC_", extra="ignore")

    name: str = "CAREMESH DEMO CLINIC"
    npi: str = "1234567893"
    tax_id: str = "123456789"  # EIN, nine digits
    taxonomy_code: str = "207Q00000X"  # family medicine
    address_line: str = "100 MAIN STREET"
    city: str = "SPRINGFIELD"
    state: str = "IL"
    postal_code: str = "627011234"  # ZIP+4, nine digits, as 837P asks of a billing provider
    country: str = Field(default="US", min_length=2, max_length=56)  # of the facility the first start creates
    contact_name: str = "BILLING OFFICE"
    phone: str = "2175550100"

    @field_validator("npi")
    @classmethod
    def _npi_check_digit(cls, value: str) -> str:
        if not (len(value) == 10 and value.isdigit() and npi_check_digit(value[:9]) == value[9]):
            raise ValueError("an NPI is ten digits with a Luhn check digit over the prefix 80840")
        return value

    @field_validator("tax_id", "postal_code")
    @classmethod
    def _nine_digits(cls, value: str) -> str:
        if not (len(value) == 9 and value.isdigit()):
            raise ValueError("nine digits are needed (a tax id or EIN; a ZIP+4 without the dash)")
        return value

    @field_validator("state")
    @classmethod
    def _state_code(cls, value: str) -> str:
        if not (len(value) == 2 and value.isalpha()):
            raise ValueError("a two-letter state code")
        return value.upper()


def npi_check_digit(first_nine: str) -> str:
    """The NPI's tenth digit: Luhn over '80840' + the first nine digits."""
    total = 0
    for position, char in enumerate(reversed("80840" + first_nine)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


class ClaimSettings(BaseSettings):
    model_config = _config()

    # A claim must be submitted within this many days of its service date.
    claim_window_days: int = 30
    # A submitted claim with the same member, provider, amount and service date within this many hours is a duplicate.
    claim_duplicate_window_hours: int = 72


class StorageSettings(BaseSettings):
    """Where files (dispute attachments) are kept: a local directory unless CAREMESH_STORAGE_URL names an
    S3-compatible bucket. Credentials, region and endpoint left unset come from boto3's usual chain
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3, ~/.aws, an instance role)."""

    model_config = _config()

    # Unset: `caremesh-files` beside the SQLite database file, else in the working directory.
    storage_dir: Path | None = None
    # s3://bucket[/prefix]: keep files in that bucket (needs the `s3` extra: `pip install caremesh[s3]`).
    storage_url: str | None = Field(default=None, pattern=r"^s3://[^/\s]+(/.*)?$")
    storage_s3_endpoint_url: str | None = None  # e.g. https://minio.example.org:9000; unset: AWS
    storage_s3_region: str | None = None
    storage_s3_access_key_id: str | None = None
    storage_s3_secret_access_key: SecretStr | None = None

    @field_validator(
        "storage_dir",
        "storage_url",
        "storage_s3_endpoint_url",
        "storage_s3_region",
        "storage_s3_access_key_id",
        "storage_s3_secret_access_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value


class Settings:
    """All settings of one process; each concern reads its own `CAREMESH_*` variables."""

    def __init__(
        self,
        app: AppSettings | None = None,
        db: DatabaseSettings | None = None,
        security: SecuritySettings | None = None,
        messaging: MessagingSettings | None = None,
        billing: BillingSettings | None = None,
        payments: PaymentSettings | None = None,
        notifications: NotificationSettings | None = None,
        orders: OrderSettings | None = None,
        clinic: ClinicSettings | None = None,
        claims: ClaimSettings | None = None,
        http: HttpSettings | None = None,
        storage: StorageSettings | None = None,
    ) -> None:
        self.app = app or AppSettings()
        self.db = db or DatabaseSettings()
        self.security = security or SecuritySettings()
        self.messaging = messaging or MessagingSettings()
        self.billing = billing or BillingSettings()
        self.payments = payments or PaymentSettings()
        self.notifications = notifications or NotificationSettings()
        self.orders = orders or OrderSettings()
        self.clinic = clinic or ClinicSettings()
        self.claims = claims or ClaimSettings()
        self.http = http or HttpSettings()
        self.storage = storage or StorageSettings()


def parse_rate(spec: str) -> tuple[int, float]:
    """'10/minute' -> (10, 60.0). A count of 0 disables the limit."""
    count, _, period = spec.partition("/")
    seconds = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}[period.strip() or "minute"]
    return int(count), seconds


__all__ = [
    "AppSettings",
    "BillingSettings",
    "ClaimSettings",
    "ClinicSettings",
    "DatabaseSettings",
    "HttpSettings",
    "MessagingSettings",
    "NotificationSettings",
    "OrderSettings",
    "PaymentSettings",
    "SecuritySettings",
    "Settings",
    "StorageSettings",
    "npi_check_digit",
    "parse_rate",
]
