"""Channels are ports: `send` delivers one message or raises. Adapters: the log (default), SMTP, an SMS webhook.

Raise `DeliveryRefused` when trying again cannot help (the server refused the recipient): the message
fails at once. Any other exception is a transient failure that is retried with backoff.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx
import structlog

from caremesh.notifications.domain import Channel, OutgoingMessage, SmtpTarget, parse_smtp_url
from caremesh.platform.settings import NotificationSettings

log = structlog.get_logger("caremesh.notifications")


class DeliveryRefused(Exception):
    """A permanent failure: the message fails without further attempts."""


class ChannelPort(Protocol):
    async def send(self, message: OutgoingMessage) -> None: ...


class LogChannel:
    """Delivers to the log: that a message was sent, never to whom or what."""

    async def send(self, message: OutgoingMessage) -> None:
        log.info("notification_delivered_to_log", notification_id=str(message.id), channel=message.channel.value)


class SmtpChannel:
    def __init__(self, target: SmtpTarget, sender: str, timeout_seconds: float) -> None:
        self.target = target
        self.sender = sender
        self.timeout_seconds = timeout_seconds

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        # The same id on every attempt lets a receiving server drop a duplicate.
        email["Message-ID"] = f"<{message.id}@caremesh>"
        email.set_content(message.body)
        return email

    async def send(self, message: OutgoingMessage) -> None:
        target = self.target
        try:
            await aiosmtplib.send(
                self.compose(message),
                hostname=target.hostname,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.use_tls,
                start_tls=target.start_tls,
                timeout=self.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise DeliveryRefused("SMTP: the recipient was refused") from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise DeliveryRefused(f"SMTP {error.code}: {error.message}") from error
            raise


class WebhookSmsChannel:
    """POSTs `{to, body, id}` as JSON; a 2xx answer is delivery. `Idempotency-Key` is the message id."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds

    async def send(self, message: OutgoingMessage) -> None:
        payload = {"to": message.recipient, "body": message.body, "id": str(message.id)}
        async with httpx.AsyncClient(timeout=self.timeout_seconds, follow_redirects=False) as client:
            response = await client.post(self.url, json=payload, headers={"Idempotency-Key": str(message.id)})
        if response.is_success:
            return
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 409, 425, 429):
            raise DeliveryRefused(f"SMS webhook answered HTTP {status}")
        raise ConnectionError(f"SMS webhook answered HTTP {status}")


def build_channels(settings: NotificationSettings) -> dict[Channel, ChannelPort]:
    """SMTP when `CAREMESH_SMTP_URL` is set, the SMS webhook when `CAREMESH_SMS_WEBHOOK_URL` is; else the log.

    A malformed SMTP URL raises here, at start-up, not at the first message.
    """
    timeout = settings.notification_send_timeout_seconds
    channels: dict[Channel, ChannelPort] = {Channel.EMAIL: LogChannel(), Channel.SMS: LogChannel()}
    if settings.smtp_url:
        channels[Channel.EMAIL] = SmtpChannel(parse_smtp_url(settings.smtp_url), settings.email_from, timeout)
    if settings.sms_webhook_url:
        channels[Channel.SMS] = WebhookSmsChannel(settings.sms_webhook_url, timeout)
    return channels
