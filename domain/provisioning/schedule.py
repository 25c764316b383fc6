"""Scheduled refreshes, and the lease that lets one refresh per application run.

Each application's `RefreshSchedule` row stores when its mirror was last
refreshed and when the scheduler next queues a refresh: the end of the last
refresh plus the interval of the Settings tab. The lease names the one run
allowed to read the target and replace the mirror. A run takes it when it
starts, renews it at each page it reads, and gives it up when it ends, so a
run whose process died frees the application after `LEASE_DURATION`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import (
    ConnectionStatus,
    ProvisioningSettings,
    RefreshSchedule,
    RefreshStatus,
    ScimConnection,
)
from domain.models.automation import default_refresh_interval
from domain.models.columns import utcnow

logger = logging.getLogger(__name__)

#: How long a lease lasts unless its run renews it. A run renews it after
#: each page, and one SCIM request takes at most SMARTLINK_SCIM_TOTAL_TIMEOUT
#: (60 s by default), so a live run renews well within this.
LEASE_DURATION = timedelta(minutes=5)


async def find_schedule(
    session: AsyncSession, application_id: uuid.UUID
) -> RefreshSchedule | None:
    return await session.get(RefreshSchedule, application_id)


async def get_schedule(
    session: AsyncSession, application_id: uuid.UUID
) -> RefreshSchedule:
    """Return the application's schedule row, adding it to the session if missing."""
    schedule = await session.get(RefreshSchedule, application_id)
    if schedule is None:
        schedule = RefreshSchedule(application_id=application_id)
        session.add(schedule)
    return schedule


async def due_applications(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """Return the connected applications whose next refresh is due at `now`.

    A connected application without a schedule row counts as due, so the
    scheduler gives it one.
    """
    statement = (
        select(ScimConnection.application_id)
        .outerjoin(
            RefreshSchedule,
            col(RefreshSchedule.application_id) == col(ScimConnection.application_id),
        )
        .where(ScimConnection.status == ConnectionStatus.CONNECTED)
        .where(
            or_(
                col(RefreshSchedule.application_id).is_(None),
                col(RefreshSchedule.next_refresh_at) <= now,
            )
        )
    )
    return list(await session.exec(statement))


def next_refresh(interval: int | None, after: datetime) -> datetime | None:
    """Return when a refresh is due `interval` minutes after `after`, or None if off."""
    return after + timedelta(minutes=interval) if interval else None


async def reschedule(
    session: AsyncSession,
    application_id: uuid.UUID,
    interval: int | None,
    *,
    now: datetime | None = None,
) -> None:
    """Count the next refresh from the last one, after the interval changed.

    An application never refreshed is due `interval` minutes from `now`.
    """
    schedule = await get_schedule(session, application_id)
    anchor = schedule.last_refreshed_at or now or utcnow()
    schedule.next_refresh_at = next_refresh(interval, anchor)


async def take_lease(
    session: AsyncSession,
    application_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> uuid.UUID | None:
    """Give the lease of the application to `run_id` unless another run holds it.

    Returns None on success, else the id of the run that holds the lease.
    Callers hold the connection row's lock (see `refresh.lock_connection`),
    which keeps two claims of one application from adding its row at once.
    """
    now = now or utcnow()
    schedule = await get_schedule(session, application_id)
    await session.flush()
    claimed = await session.exec(
        update(RefreshSchedule)
        .where(col(RefreshSchedule.application_id) == application_id)
        .where(
            or_(
                col(RefreshSchedule.lease_run_id).is_(None),
                col(RefreshSchedule.lease_run_id) == run_id,
                col(RefreshSchedule.lease_expires_at) < now,
            )
        )
        .values(lease_run_id=run_id, lease_expires_at=now + LEASE_DURATION)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:
        return None
    await session.refresh(schedule)
    return schedule.lease_run_id


async def renew_lease(
    session: AsyncSession, application_id: uuid.UUID, run_id: uuid.UUID
) -> bool:
    """Extend the lease of `run_id`, or return False when the run lost it."""
    renewed = await session.exec(
        update(RefreshSchedule)
        .where(col(RefreshSchedule.application_id) == application_id)
        .where(col(RefreshSchedule.lease_run_id) == run_id)
        .values(lease_expires_at=utcnow() + LEASE_DURATION)
    )
    return bool(renewed.rowcount == 1)


async def lease_is_live(
    session: AsyncSession, application_id: uuid.UUID, run_id: uuid.UUID
) -> bool:
    """Return whether `run_id` holds an unexpired lease on the application."""
    statement = select(RefreshSchedule.lease_expires_at).where(
        RefreshSchedule.application_id == application_id,
        RefreshSchedule.lease_run_id == run_id,
    )
    expires_at = (await session.exec(statement)).first()
    return expires_at is not None and expires_at > utcnow()


async def end_refresh(
    session: AsyncSession,
    application_id: uuid.UUID,
    run_id: uuid.UUID,
    status: RefreshStatus,
    finished_at: datetime,
) -> None:
    """Release the run's lease and count the next refresh from its end.

    A failed run also waits a full interval, so a target that is down is not
    read again at every pass of the scheduler.
    """
    settings = await session.get(ProvisioningSettings, application_id)
    interval = settings.refresh_interval if settings else default_refresh_interval()
    schedule = await get_schedule(session, application_id)
    if status is RefreshStatus.SUCCEEDED:
        schedule.last_refreshed_at = finished_at
    schedule.next_refresh_at = next_refresh(interval, finished_at)
    if schedule.lease_run_id == run_id:
        schedule.lease_run_id = None
        schedule.lease_expires_at = None
