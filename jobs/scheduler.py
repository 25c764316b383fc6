"""The refresh scheduler: sends a refresh job for each application that is due.

It runs as a task in `smartlink serve`, beside the outbox relay, and looks
for due applications every `SMARTLINK_SCHEDULER_POLL` seconds. Several
`serve` processes may each run one; see `queue_due_refreshes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.config import get_settings
from domain.provisioning.scheduler import queue_due_refreshes
from jobs.refresh import enqueue_refresh

logger = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, poll: float | None = None) -> None:
        self.poll = poll or get_settings().scheduler_poll
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="refresh-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        logger.info("Refresh scheduler started; polling every %g s.", self.poll)
        while True:
            try:
                await self.run_due()
            except Exception:
                logger.exception("Refresh scheduler pass failed; retrying.")
            await asyncio.sleep(self.poll)

    async def run_due(self) -> int:
        """Queue and send the refreshes that are due; returns how many were sent.

        A run whose job could not be sent stays QUEUED, and `smartlink serve`
        sends it again when it starts.
        """
        # NOTE: while the broker is down, an unsent QUEUED run keeps new
        # refreshes of its application coalesced into it until it goes stale
        # (refresh.STALE_AFTER, 30 minutes) or serve restarts.
        run_ids = await queue_due_refreshes(send=enqueue_refresh)
        return len(run_ids)
