"""The mass-deprovisioning guard: too many automatic removals wait for an admin."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import case, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import tickets
from domain.models import (
    EventStatus,
    OutboxEvent,
    ProvisioningSettings,
    TicketAction,
)
from domain.models.columns import utcnow

AUTOMATIC_TRIGGER = "automatic:"


async def should_hold(
    session: AsyncSession, event: OutboxEvent, settings: ProvisioningSettings
) -> bool:
    """Whether this removal must wait, because the window's quota is used up.

    Otherwise the removal takes one unit of the quota at once, with a single
    conditional UPDATE, so concurrent workers can never pass the threshold.
    Windows are fixed: one opens at the first removal after the last expired.
    """
    if event.guard_released:
        return False
    await _ensure_settings_row(session, settings)

    now = utcnow()
    expired = col(ProvisioningSettings.guard_window_started_at).is_(None) | (
        col(ProvisioningSettings.guard_window_started_at)
        < now - timedelta(minutes=settings.mass_deprovision_window_minutes)
    )
    result = await session.exec(
        update(ProvisioningSettings)
        .where(col(ProvisioningSettings.application_id) == event.application_id)
        .where(
            expired
            | (
                col(ProvisioningSettings.guard_window_removals)
                < settings.mass_deprovision_threshold
            )
        )
        .values(
            guard_window_started_at=case(
                (expired, now), else_=col(ProvisioningSettings.guard_window_started_at)
            ),
            guard_window_removals=case(
                (expired, 1), else_=col(ProvisioningSettings.guard_window_removals) + 1
            ),
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(result.rowcount != 1)


async def _ensure_settings_row(
    session: AsyncSession, settings: ProvisioningSettings
) -> None:
    """Save default settings, so the guard has a row to count in."""
    if await session.get(ProvisioningSettings, settings.application_id) is None:
        session.add(settings)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()


async def hold(
    session: AsyncSession, event: OutboxEvent, settings: ProvisioningSettings
) -> None:
    """Park the event and open (or update) the ticket asking an admin to decide.

    The settings row is locked first, so concurrent holds of one application
    take turns, and each counts the events the others held. On PostgreSQL,
    without the lock, two holds in flight each miss the other's uncommitted
    row, and the ticket shows one removal too few. SQLite ignores FOR UPDATE
    because it runs one write transaction at a time.
    """
    await _lock_settings_row(session, event.application_id)
    event.status = EventStatus.HELD
    event.claimed_at = None
    await session.flush()
    held = await count_held(session, event.application_id)
    message = (
        f"{held} automatic account removals are waiting, because the limit of "
        f"{settings.mass_deprovision_threshold} removals within "
        f"{settings.mass_deprovision_window_minutes} minutes was reached. Resolve "
        "this ticket to carry them out, or dismiss it to cancel them."
    )
    await tickets.upsert_ticket(
        session,
        open_key=tickets.guard_key(event.application_id),
        application_id=event.application_id,
        event=event.event,
        action=TicketAction.RELEASE_HELD,
        message=message,
        user_id=None,
    )


async def _lock_settings_row(session: AsyncSession, application_id: uuid.UUID) -> None:
    statement = (
        select(ProvisioningSettings.application_id)
        .where(ProvisioningSettings.application_id == application_id)
        .with_for_update()
    )
    await session.exec(statement)


async def count_held(session: AsyncSession, application_id: uuid.UUID) -> int:
    statement = select(func.count()).where(
        OutboxEvent.application_id == application_id,
        OutboxEvent.status == EventStatus.HELD,
    )
    return int((await session.exec(statement)).one())


async def held_events(
    session: AsyncSession, application_id: uuid.UUID
) -> list[OutboxEvent]:
    statement = select(OutboxEvent).where(
        OutboxEvent.application_id == application_id,
        OutboxEvent.status == EventStatus.HELD,
    )
    return list(await session.exec(statement))
