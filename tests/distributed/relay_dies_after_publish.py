"""Run as a process (`python -m tests.distributed.relay_dies_after_publish`, with the cluster's `CAREMESH_*`
environment): the real relay publishes every pending outbox event through the real JetStreamTransport, and the
process SIGKILLs itself right after JetStream's acks, before the relay's transaction marks the events published.
A crash in the worst place, without a hook in the production code: the transport is wrapped here."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from caremesh.app import create_app
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.settings import Settings


class DieAfterPublish:
    def __init__(self, transport: Any) -> None:
        self.transport = transport

    async def publish(self, session: Any, envelopes: list[Envelope]) -> None:
        await self.transport.publish(session, envelopes)  # acked by JetStream
        os.kill(os.getpid(), signal.SIGKILL)  # the relay's transaction never commits


async def main() -> None:
    app = create_app(Settings())
    relay = app.state.workers.relay
    relay.transport = DieAfterPublish(relay.transport)
    await relay.run_once()
    raise SystemExit("the relay found nothing to publish")


if __name__ == "__main__":
    asyncio.run(main())
