"""One polling base for every background job: do what is due in batches, sleep when idle, outlive errors.

A context's jobs live in its `jobs.py` and are offered to the app as `JOBS` (factories taking the unit-of-work
factory). A job says what one pass does (`run_once`, which tests call directly); `run_forever` is the same loop
for all of them: a full batch runs the next one at once, anything less (or an error, logged) waits for the poll
interval or an earlier `wake()`, whichever comes first.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from functools import cached_property

import structlog

from caremesh.platform.wakeup import woken

log = structlog.get_logger("caremesh.jobs")


class PollingJob(ABC):
    name: str
    poll_seconds: float = 5.0
    batch_size: int = 50
    linger_seconds: float = 0.0  # after a wake-up, so work arriving together is done in one pass

    @abstractmethod
    async def run_once(self) -> int:
        """Do one batch of what is due now; return how much was done (0: nothing was due)."""

    async def run_pass(self) -> int:
        """What `run_forever` does each time round; `run_once` unless a job needs to tell more (e.g. busy)."""
        return await self.run_once()

    def poll_interval(self) -> float:
        return self.poll_seconds

    @cached_property
    def _wake(self) -> asyncio.Event:
        return asyncio.Event()

    def wake(self) -> None:
        """Run the next pass now rather than at the end of the poll interval."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            self._wake.clear()  # before looking, so a wake during the look is not lost
            try:
                if await self.run_pass() >= self.batch_size:
                    continue
            except Exception as error:  # a job must outlive a bad moment of the database
                log.error("background_job_failed", job=self.name, error_type=type(error).__name__, exc_info=error)
            if await woken(self._wake, self.poll_interval()) and self.linger_seconds:
                await asyncio.sleep(self.linger_seconds)
