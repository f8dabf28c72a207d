"""Waiting for a background worker's wake-up call, or its poll interval, whichever comes first."""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set (True) or `seconds` pass (False). Not `asyncio.wait_for`: on Python 3.11 it can
    swallow a cancellation that lands as the event is set, and a worker being stopped would then run on."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
