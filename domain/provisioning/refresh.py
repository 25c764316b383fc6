"""Refreshes: background imports of a target's users and groups into the mirror."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.drift import detect_drift
from domain.config import get_settings
from domain.db import session_scope
from domain.errors import DomainError
from domain.models import RefreshRun, RefreshStatus, ScimConnection
from domain.models.columns import utcnow
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.mirror import replace_accounts, replace_groups
from domain.provisioning.schedule import (
    end_refresh,
    get_schedule,
    lease_is_live,
    renew_lease,
    take_lease,
)
from domain.provisioning.target_errors import target_error
from domain.scim.errors import ScimError, ScimMisrouted, ScimNotFound
from domain.scim.paging import Listing
from domain.secrets import SecretKeyError

logger = logging.getLogger(__name__)

#: A RUNNING refresh not finished after this long is taken as crashed, so a
#: new refresh may start.
STALE_AFTER = timedelta(minutes=30)

ACTIVE_STATUSES = (RefreshStatus.QUEUED, RefreshStatus.RUNNING)


async def latest_refresh(
    session: AsyncSession, application_id: uuid.UUID
) -> RefreshRun | None:
    statement = (
        select(RefreshRun)
        .where(RefreshRun.application_id == application_id)
        .order_by(col(RefreshRun.created_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def request_refresh(
    session: AsyncSession, application_id: uuid.UUID
) -> tuple[RefreshRun, bool]:
    """Queue a refresh of the application's mirror, unless one is under way.

    Returns the run and whether it is new; the caller enqueues a new run's job
    after committing. A run under way stays under way past `STALE_AFTER`
    while it holds the application's lease.
    """
    await require_connection(session, application_id)
    await lock_connection(session, application_id)
    latest = await latest_refresh(session, application_id)
    if (
        latest is not None
        and latest.status in ACTIVE_STATUSES
        and (
            not _is_stale(latest)
            or await lease_is_live(session, application_id, latest.id)
        )
    ):
        return latest, False

    run = RefreshRun(application_id=application_id)
    session.add(run)
    # The row must exist before a worker claims the run (see `take_lease`).
    await get_schedule(session, application_id)
    await session.flush()
    return run, True


async def lock_connection(session: AsyncSession, application_id: uuid.UUID) -> None:
    """Hold the connection row's write lock until the transaction ends.

    Two requests at once would otherwise both find no run under way and queue
    one each. An UPDATE locks the row on PostgreSQL and the database on
    SQLite, where SELECT ... FOR UPDATE does not exist.
    """
    await session.exec(
        update(ScimConnection)
        .where(col(ScimConnection.application_id) == application_id)
        .values(base_url=ScimConnection.base_url)
    )


def _is_stale(run: RefreshRun) -> bool:
    moment = run.started_at or run.created_at
    return utcnow() - moment > STALE_AFTER


async def pending_refreshes(session: AsyncSession) -> list[uuid.UUID]:
    """Return the runs still queued, for a worker that starts to pick up again."""
    statement = select(RefreshRun.id).where(RefreshRun.status == RefreshStatus.QUEUED)
    return list(await session.exec(statement))


async def _claim(run_id: uuid.UUID) -> RefreshRun | None:
    """Move a QUEUED run to RUNNING with the application's lease.

    Returns None when another worker has the run. When another run holds the
    lease, this one ends FAILED without reading the target, so one
    application's refresh never runs twice at once.
    """
    async with session_scope() as session:
        queued = await session.get(RefreshRun, run_id)
        if queued is None or queued.status is not RefreshStatus.QUEUED:
            return None
        application_id = queued.application_id
        await lock_connection(session, application_id)
        claimed = await session.exec(
            update(RefreshRun)
            .where(col(RefreshRun.id) == run_id)
            .where(col(RefreshRun.status) == RefreshStatus.QUEUED)
            .values(status=RefreshStatus.RUNNING, started_at=utcnow())
        )
        if claimed.rowcount != 1:
            return None
        holder = await take_lease(session, application_id, run_id)
        if holder is not None:
            message = (
                "Not run: another refresh of this application was still running, "
                "and two refreshes of one application never run at once. Refresh "
                "again once it has finished."
            )
            await _end(session, application_id, run_id, RefreshStatus.FAILED, message)
            logger.info("Refresh %s failed: run %s has the lease.", run_id, holder)
            return None
        await session.refresh(queued)
        return queued


#: The run's error when another run took its lapsed lease before it finished.
LEASE_LOST = (
    "The refresh paused longer than its lease allows, so another refresh of this "
    "application took over, and this one left the mirror as it was."
)

#: The run's error when the refresh failed on something other than the target.
UNEXPECTED_FAILURE = (
    "The refresh stopped on an unexpected error and left the mirror as it was; "
    "see the server log, then refresh again."
)


async def run_refresh(run_id: uuid.UUID) -> RefreshStatus | None:
    """Import the target's users and groups for a queued refresh run.

    The mirror changes in one transaction at the end, so a refresh that fails
    half-way leaves the previous mirror as it was. Returns the final status, or
    None when the run was not queued (already done or taken by another worker),
    or when it ended unrun because another run held the lease. An unexpected
    exception marks the run FAILED before it propagates.
    """
    run = await _claim(run_id)
    if run is None:
        logger.info("Refresh %s is not queued; skipping it.", run_id)
        return None

    try:
        return await _refresh(run)
    except Exception:
        # The job layer logs the traceback; the run must not stay RUNNING
        # until it goes stale.
        await _finish(run, RefreshStatus.FAILED, error=UNEXPECTED_FAILURE)
        raise


async def _refresh(run: RefreshRun) -> RefreshStatus:
    run_id = run.id
    try:
        users, groups = await _read_target(run)
    except (ScimError, DomainError, SecretKeyError) as exc:
        message = _failure_message(exc)
        await _finish(run, RefreshStatus.FAILED, error=message)
        logger.info("Refresh %s failed: %s", run_id, message)
        return RefreshStatus.FAILED

    # Rows written since the listing began (an account created meanwhile)
    # are missing from the listing but not from the target. NOTE: this
    # compares the worker's clock with that of the process that wrote the row.
    assert run.started_at is not None
    async with session_scope() as session:
        await replace_accounts(
            session,
            run.application_id,
            users.resources,
            remove_missing=users.complete,
            listing_started_at=run.started_at,
        )
        await replace_groups(
            session,
            run.application_id,
            groups.resources,
            remove_missing=groups.complete,
            listing_started_at=run.started_at,
        )
        # Renewing in the same transaction also fences: a run whose lease
        # lapsed and went to another run must not overwrite the newer run's
        # mirror, so its changes are rolled back.
        leased = await renew_lease(session, run.application_id, run_id)
        if leased:
            drifted = await detect_drift(session, run.application_id)
        else:
            await session.rollback()
    if not leased:
        await _finish(run, RefreshStatus.FAILED, error=LEASE_LOST)
        logger.warning(
            "Refresh %s lost its lease, so the mirror stays as it was.", run_id
        )
        return RefreshStatus.FAILED
    await _finish(
        run,
        RefreshStatus.SUCCEEDED,
        complete=users.complete and groups.complete,
        error=_incomplete_message(users, groups),
        total_accounts=len(users.resources),
        total_groups=len(groups.resources),
    )
    logger.info(
        "Refresh %s read %d accounts and %d groups; %d accounts drifted.",
        run_id,
        len(users.resources),
        len(groups.resources),
        drifted,
    )
    return RefreshStatus.SUCCEEDED


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, ScimError):
        return target_error(exc, "read the target's users and groups").message
    if isinstance(exc, DomainError):
        return exc.message
    return str(exc)


def _incomplete_message(users: Listing, groups: Listing) -> str | None:
    """Name each incomplete listing, from which nothing was removed."""
    sentences = [
        f"No {noun} was removed from the mirror because the target's {kind} "
        f"listing is incomplete: {listing.problem}."
        for noun, kind, listing in (
            ("account", "user", users),
            ("group", "group", groups),
        )
        if not listing.complete
    ]
    return " ".join(sentences) or None


async def _read_target(run: RefreshRun) -> tuple[Listing, Listing]:
    async with session_scope() as session:
        connection = await require_connection(session, run.application_id)
    page_size = get_settings().scim_page_size

    async def accounts_progress(read: int, total: int | None) -> None:
        await _progress(run, accounts_read=read, total_accounts=total)

    async def groups_progress(read: int, total: int | None) -> None:
        await _progress(run, groups_read=read, total_groups=total)

    async with open_client(connection, dry_run=False) as client:
        users = await client.list_all(
            "Users", page_size=page_size, on_page=accounts_progress
        )
        try:
            groups = await client.list_all(
                "Groups", page_size=page_size, on_page=groups_progress
            )
        except (ScimNotFound, ScimMisrouted):
            # The same base URL served /Users, so even a 404 that is no SCIM
            # error means the target has no groups endpoint.
            groups = Listing(complete=False, problem="the target has no /Groups")
    return users, groups


async def _progress(run: RefreshRun, **values: int | None) -> None:
    """Store the counts read so far, and renew the run's lease."""
    async with session_scope() as session:
        # Write the schedule row before the run's row, as `_end` does.
        await renew_lease(session, run.application_id, run.id)
        await session.exec(
            update(RefreshRun).where(col(RefreshRun.id) == run.id).values(**values)
        )


async def _finish(
    run: RefreshRun,
    status: RefreshStatus,
    error: str | None = None,
    **values: object,
) -> None:
    async with session_scope() as session:
        await _end(session, run.application_id, run.id, status, error, **values)


async def _end(
    session: AsyncSession,
    application_id: uuid.UUID,
    run_id: uuid.UUID,
    status: RefreshStatus,
    error: str | None = None,
    **values: object,
) -> None:
    """Mark the run finished, release its lease, and schedule the next refresh.

    It writes the schedule row before the run's row, because the test suite's
    cleanup deletes them in that order. The other order deadlocked against
    that cleanup on PostgreSQL.
    """
    finished_at = utcnow()
    await end_refresh(session, application_id, run_id, status, finished_at)
    await session.flush()
    await session.exec(
        update(RefreshRun)
        .where(col(RefreshRun.id) == run_id)
        .values(status=status, finished_at=finished_at, error=error, **values)
    )
