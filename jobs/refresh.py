"""Actor that imports a target's users and groups into the mirror."""

from __future__ import annotations

import uuid

import dramatiq

from domain.db import session_scope
from domain.provisioning.refresh import pending_refreshes, run_refresh
from jobs import broker as _broker  # noqa: F401  (sets the broker first)


# A refresh marks its own failures on the run. Dramatiq does not retry it,
# because a retry of a run that a worker already claimed would only skip.
@dramatiq.actor(max_retries=0, time_limit=60 * 60 * 1000)
async def refresh_application(run_id: str) -> None:
    await run_refresh(uuid.UUID(run_id))


def enqueue_refresh(run_id: uuid.UUID) -> None:
    refresh_application.send(str(run_id))


async def requeue_pending_refreshes() -> int:
    """Send again the runs still queued, whose message a crash may have lost.

    A run's message sent twice is harmless: only one worker can claim the run.
    """
    async with session_scope() as session:
        run_ids = await pending_refreshes(session)
    for run_id in run_ids:
        enqueue_refresh(run_id)
    return len(run_ids)
