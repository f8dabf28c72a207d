"""The dispatcher that sends queued messages in the background."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from caremesh.notifications import delivery
from caremesh.notifications.channels import ChannelPort, DeliveryRefused, build_channels
from caremesh.notifications.domain import Channel, OutgoingMessage
from caremesh.platform.jobs import PollingJob
from caremesh.platform.uow import UnitOfWorkFactory

log = structlog.get_logger("caremesh.notifications")


class NotificationDispatcher(PollingJob):
    """Sends due messages: claim a batch under a lease and commit, send each outside any transaction,
    then record its outcome in a transaction of its own. Polls every `CAREMESH_NOTIFICATION_POLL_SECONDS`."""

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

    def poll_interval(self) -> float:
        return self.settings.notification_poll_seconds

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


JOBS = [NotificationDispatcher]
