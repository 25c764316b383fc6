"""The scheduler's pass: queue a refresh for each application that is due."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from domain.automation.settings import get_provisioning_settings
from domain.db import session_scope
from domain.errors import DomainError
from domain.models.columns import utcnow
from domain.provisioning.refresh import lock_connection, request_refresh
from domain.provisioning.schedule import due_applications, get_schedule, next_refresh

logger = logging.getLogger(__name__)


async def queue_due_refreshes(
    now: datetime | None = None,
    send: Callable[[uuid.UUID], None] | None = None,
) -> list[uuid.UUID]:
    """Queue a refresh of each application due at `now`, and return the new runs.

    `send` gets each new run's id as soon as its run is committed, so its job
    does not wait for the rest of the pass, which commits once per application.
    A refresh already under way is not queued again. Several schedulers may
    run at once, in several processes: each application is handled under its
    connection row's lock, and its next refresh is set before the lock is
    released.
    """
    now = now or utcnow()
    async with session_scope() as session:
        application_ids = await due_applications(session, now)

    run_ids: list[uuid.UUID] = []
    for application_id in application_ids:
        try:
            run_id = await _queue(application_id, now)
        except DomainError as error:
            # Disconnected or deleted since the query; the next pass skips it.
            logger.info(
                "Scheduled refresh of application %s skipped: %s",
                application_id,
                error.message,
            )
            continue
        if run_id is not None:
            run_ids.append(run_id)
            if send is not None:
                send(run_id)
    return run_ids


async def _queue(application_id: uuid.UUID, now: datetime) -> uuid.UUID | None:
    async with session_scope() as session:
        # Locking first makes a second scheduler wait here, then see the
        # next refresh that this one set.
        await lock_connection(session, application_id)
        schedule = await get_schedule(session, application_id)
        if schedule.next_refresh_at is not None and schedule.next_refresh_at > now:
            return None

        settings = await get_provisioning_settings(session, application_id)
        interval = settings.refresh_interval
        # Until the run ends and counts from its end, this keeps it from
        # being queued at every pass.
        schedule.next_refresh_at = next_refresh(interval, now)
        if interval is None:
            return None
        run, is_new = await request_refresh(session, application_id)
        if is_new:
            logger.info("Queued scheduled refresh %s of %s.", run.id, application_id)
        return run.id if is_new else None
