"""The mass-deprovisioning guard: too many automatic removals wait for an admin."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import tickets
from domain.models import (
    EventStatus,
    OperationStatus,
    OutboxEvent,
    ProvisioningEvent,
    ProvisioningOperation,
    ProvisioningSettings,
    TicketAction,
)
from domain.models.columns import utcnow
from domain.provisioning.account_writes import DEACTIVATE_ACCOUNT, DELETE_ACCOUNT

AUTOMATIC_TRIGGER = "automatic:"


async def recent_removals(
    session: AsyncSession, application_id: uuid.UUID, window: timedelta
) -> int:
    """Count automatic deletions and deactivations within the window."""
    statement = select(func.count()).where(
        ProvisioningOperation.application_id == application_id,
        col(ProvisioningOperation.action).in_([DELETE_ACCOUNT, DEACTIVATE_ACCOUNT]),
        col(ProvisioningOperation.trigger).startswith(AUTOMATIC_TRIGGER),
        col(ProvisioningOperation.status) != OperationStatus.FAILED,
        col(ProvisioningOperation.created_at) >= utcnow() - window,
    )
    return int((await session.exec(statement)).one())


async def should_hold(
    session: AsyncSession, event: OutboxEvent, settings: ProvisioningSettings
) -> bool:
    """Whether this removal must wait, because the window's quota is used up.

    NOTE: workers count concurrently, so a burst may pass the threshold by up
    to the number of removals running at once.
    """
    if event.guard_released:
        return False
    window = timedelta(minutes=settings.mass_deprovision_window_minutes)
    done = await recent_removals(session, event.application_id, window)
    return done >= settings.mass_deprovision_threshold


async def hold(
    session: AsyncSession, event: OutboxEvent, settings: ProvisioningSettings
) -> None:
    """Park the event and open (or update) the ticket asking an admin to decide."""
    event.status = EventStatus.HELD
    event.claimed_at = None
    held = await count_held(session, event.application_id) + 1
    message = (
        f"{held} automatic account removals are waiting: more than "
        f"{settings.mass_deprovision_threshold} happened within "
        f"{settings.mass_deprovision_window_minutes} minutes. Resolve this ticket to "
        "carry them out, or dismiss it to cancel them."
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


REMOVAL_EVENTS = (
    ProvisioningEvent.USER_LOSES_ACCESS,
    ProvisioningEvent.USER_DEACTIVATED,
)
