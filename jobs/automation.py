"""Actor that settles one automatic provisioning event in the target."""

from __future__ import annotations

import uuid

import dramatiq

from domain.automation.handlers import process_event
from jobs import broker as _broker  # noqa: F401  (sets the broker first)


# Failures are retried by the outbox, which re-publishes the event when its
# backoff ends, so Dramatiq itself never retries. The time limit stays below
# the outbox's claim expiry, so a live job is never run twice at once.
@dramatiq.actor(max_retries=0, time_limit=50_000)
async def provision_event(event_id: str) -> None:
    await process_event(uuid.UUID(event_id))


def enqueue_event(event_id: uuid.UUID) -> None:
    provision_event.send(str(event_id))
