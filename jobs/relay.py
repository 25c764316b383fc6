"""The outbox relay: sends a job for each provisioning event that is due.

It runs as a task in `smartlink serve`, wakes when a request commits new
events and at least every `POLL_INTERVAL`, and leaves events pending while the
broker is unreachable, so none is lost while Redis is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from domain.automation.outbox import release_unsent, reserve_due_events
from domain.db import session_scope
from jobs.automation import enqueue_events

logger = logging.getLogger(__name__)

#: Seconds between two looks at the outbox when nothing wakes the relay.
POLL_INTERVAL = 1.0
#: Events per job at most. A job sends a few account creations at once and
#: starts none after its send budget (`domain.automation.creations`), handing
#: the rest back to the outbox, so it ends within the actor's 50 s time limit.
# NOTE: one request that runs to the SCIM total timeout can still make a
# batch exceed that limit. The outbox then re-publishes the events after its
# claim expiry, and each retry looks for the account before POSTing.
BATCH_SIZE = 32


class Relay:
    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._broker_down = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def nudge(self) -> None:
        """Ask for a pass now, after a request committed events."""
        self._wake.set()

    async def _run(self) -> None:
        logger.info("Outbox relay started.")
        while True:
            try:
                while await self.publish_due() > 0:
                    pass
            except Exception:
                logger.exception("Outbox relay pass failed; retrying.")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL)
            self._wake.clear()

    async def publish_due(self) -> int:
        """Send the jobs of due events; returns how many events were sent."""
        async with session_scope() as session:
            event_ids = await reserve_due_events(session)
        if not event_ids:
            return 0

        # The Redis client blocks, so sends run in a worker thread, and the event
        # loop keeps serving requests while Redis is slow or frozen. The
        # broker's socket timeout bounds how long that thread waits.
        sent, error = await asyncio.to_thread(_send_jobs, event_ids)
        if error is not None:
            self._report_broker_down(error)
            async with session_scope() as session:
                await release_unsent(session, event_ids[sent:])
            return 0

        logger.debug("Published %d outbox events.", sent)
        self._report_broker_up()
        return sent

    def _report_broker_down(self, exc: Exception) -> None:
        if not self._broker_down:
            logger.warning("Cannot reach the job broker; events stay pending: %s", exc)
        self._broker_down = True

    def _report_broker_up(self) -> None:
        if self._broker_down:
            logger.info("Job broker reachable again; sending pending events.")
        self._broker_down = False


def _send_jobs(event_ids: list[uuid.UUID]) -> tuple[int, Exception | None]:
    """Send one job per batch of events, stopping at the first failure.

    Returns how many events were sent, and the error that stopped the sends.
    """
    for start in range(0, len(event_ids), BATCH_SIZE):
        try:
            enqueue_events(event_ids[start : start + BATCH_SIZE])
        except Exception as exc:  # the broker's client raises its own errors
            return start, exc
    return len(event_ids), None


#: The relay of this process, set while `smartlink serve` runs.
current: Relay | None = None


def nudge() -> None:
    if current is not None:
        current.nudge()
