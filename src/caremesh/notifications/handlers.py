"""Entrypoints outside HTTP: consumers that turn events into queued messages, and the dispatcher
that sends queued messages in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from caremesh.identity import contract as identity
from caremesh.notifications import delivery, service
from caremesh.notifications.channels import ChannelPort, DeliveryRefused, build_channels
from caremesh.notifications.domain import Channel, OutgoingMessage
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.uow import UnitOfWork, UnitOfWorkFactory

CONSUMER = "notifications"
log = structlog.get_logger("caremesh.notifications")


async def notify_patient(uow: UnitOfWork, event: service.PatientEvent, envelope: Envelope) -> None:
    await service.notify_patient(uow, event, envelope)


async def send_password_reset(uow: UnitOfWork, event: identity.PasswordResetRequested, envelope: Envelope) -> None:
    await service.send_password_reset(uow, event, envelope)


# A payload these consumers cannot read (no usable patient id, no token) is logged and done with, not retried:
# a message needs a recipient that a retry cannot make up.
SUBSCRIPTIONS: list[Subscription[Any]] = [
    *(Subscription(CONSUMER, event, notify_patient, skip_invalid=True) for event in service.PATIENT_EVENTS),
    Subscription(CONSUMER, identity.PasswordResetRequested, send_password_reset, skip_invalid=True),
]


class NotificationDispatcher:
    """Sends due messages: claim a batch under a lease and commit, send each outside any transaction,
    then record its outcome in a transaction of its own."""

    name = "notification-dispatcher"

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        channels: Mapping[Channel, ChannelPort] | None = None,
        *,
        batch_size: int = 20,
    ) -> None:
        self.uow_factory = uow_factory
        self.settings = uow_factory.settings.notifications
        self.channels = channels if channels is not None else build_channels(self.settings)
        self.batch_size = batch_size
        # Long enough for the whole batch to time out one message after another, then some.
        self.lease_seconds = self.settings.notification_send_timeout_seconds * batch_size + 60

    async def claim(self) -> list[OutgoingMessage]:
        async with self.uow_factory.begin(request_id=self.name) as uow:
            return await delivery.claim_due(uow, limit=self.batch_size, lease_seconds=self.lease_seconds)

    async def deliver(self, message: OutgoingMessage) -> None:
        try:
            async with asyncio.timeout(self.settings.notification_send_timeout_seconds):
                await self.channels[message.channel].send(message)
        except Exception as error:
            async with self.uow_factory.begin(request_id=self.name) as uow:
                await delivery.record_failure(uow, message, error, permanent=isinstance(error, DeliveryRefused))
            return
        async with self.uow_factory.begin(request_id=self.name) as uow:
            await delivery.record_sent(uow, message)
        log.info("notification_sent", notification_id=str(message.id), channel=message.channel.value)

    async def run_once(self) -> int:
        """Send one batch of due messages; returns how many were attempted."""
        async with self.uow_factory.db.read_sessionmaker() as session:
            if not await delivery.any_due(session, self.uow_factory.clock.now()):
                return 0
        claimed = await self.claim()
        for message in claimed:
            await self.deliver(message)
        return len(claimed)

    async def run_forever(self) -> None:
        poll = self.settings.notification_poll_seconds
        while True:
            try:
                if await self.run_once() >= self.batch_size:
                    continue
            except Exception as error:  # the dispatcher must outlive a bad moment of the database
                log.error("notification_dispatcher_failed", error_type=type(error).__name__, exc_info=error)
            await asyncio.sleep(poll)


JOBS = [lambda uow_factory: NotificationDispatcher(uow_factory)]
