"""Actors that settle automatic provisioning events in the target."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import dramatiq

from domain.automation.batch import process_events
from domain.automation.handlers import process_event
from jobs import broker as _broker  # noqa: F401  (sets the broker first)


# Failures are retried by the outbox, which re-publishes the event when its
# backoff ends, so Dramatiq itself never retries. The time limit stays below
# the outbox's claim expiry, so a live job is never run twice at once.
@dramatiq.actor(max_retries=0, time_limit=50_000)
async def provision_event(event_id: str) -> None:
    await process_event(uuid.UUID(event_id))


# The relay sends this one; `provision_event` stays for the messages that an
# earlier version left queued.
@dramatiq.actor(max_retries=0, time_limit=50_000)
async def provision_events(event_ids: list[str]) -> None:
    await process_events([uuid.UUID(event_id) for event_id in event_ids])


def enqueue_events(event_ids: Sequence[uuid.UUID]) -> None:
    """Send one job for the events, which the job settles together."""
    provision_events.send([str(event_id) for event_id in event_ids])
