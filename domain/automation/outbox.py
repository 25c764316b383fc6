"""The outbox of automatic provisioning events: publishing, claiming, finishing.

Every row moves PENDING → ENQUEUED (the relay sent its job) → RUNNING (a
worker claimed it) → DONE or FAILED; HELD waits for an admin, CANCELLED was
dismissed. A job whose worker died is re-published after a deadline, and a
duplicate job finds its event claimed or finished and does nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import EventStatus, OutboxEvent
from domain.models.columns import utcnow

#: An ENQUEUED event not claimed after this long is published again: its
#: message may be stranded in a dead worker's prefetch.
REPUBLISH_AFTER = timedelta(seconds=30)

#: A RUNNING event older than this is taken as abandoned by a dead worker.
#: It must exceed the longest a live job runs (the actor's time limit).
CLAIM_EXPIRES = timedelta(seconds=60)

UNFINISHED = (
    EventStatus.PENDING,
    EventStatus.ENQUEUED,
    EventStatus.RUNNING,
    EventStatus.HELD,
)


def _publishable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(
            col(OutboxEvent.status) == EventStatus.PENDING,
            col(OutboxEvent.next_attempt_at) <= now,
        ),
        and_(
            col(OutboxEvent.status) == EventStatus.ENQUEUED,
            col(OutboxEvent.enqueued_at) < now - REPUBLISH_AFTER,
        ),
        and_(
            col(OutboxEvent.status) == EventStatus.RUNNING,
            col(OutboxEvent.claimed_at) < now - CLAIM_EXPIRES,
        ),
    )


async def publishable_events(
    session: AsyncSession, limit: int = 500
) -> list[uuid.UUID]:
    """Return ids of events whose job should be sent now, oldest first."""
    statement = (
        select(OutboxEvent.id)
        .where(_publishable(utcnow()))
        .order_by(col(OutboxEvent.sequence))
        .limit(limit)
    )
    return list(await session.exec(statement))


async def mark_enqueued(session: AsyncSession, event_ids: list[uuid.UUID]) -> None:
    """Record that the jobs of these events were sent, unless a worker took them."""
    if not event_ids:
        return
    now = utcnow()
    await session.exec(  # type: ignore[call-overload]
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(event_ids))
        .where(col(OutboxEvent.status).in_([EventStatus.PENDING, EventStatus.ENQUEUED]))
        .values(status=EventStatus.ENQUEUED, enqueued_at=now)
    )
    await session.exec(  # type: ignore[call-overload]
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(event_ids))
        .where(col(OutboxEvent.status) == EventStatus.RUNNING)
        .values(claimed_at=now - CLAIM_EXPIRES + REPUBLISH_AFTER)
    )


async def claim(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent | None:
    """Take the event for this worker; None when it is finished or taken."""
    now = utcnow()
    result = await session.exec(  # type: ignore[call-overload]
        update(OutboxEvent)
        .where(col(OutboxEvent.id) == event_id)
        .where(
            or_(
                col(OutboxEvent.status).in_(
                    [EventStatus.PENDING, EventStatus.ENQUEUED]
                ),
                and_(
                    col(OutboxEvent.status) == EventStatus.RUNNING,
                    col(OutboxEvent.claimed_at) < now - CLAIM_EXPIRES,
                ),
            )
        )
        .values(status=EventStatus.RUNNING, claimed_at=now)
    )
    await session.commit()
    if result.rowcount != 1:
        return None
    return await session.get(OutboxEvent, event_id, populate_existing=True)


async def has_unfinished_predecessor(session: AsyncSession, event: OutboxEvent) -> bool:
    """Whether an earlier event of the same user and application is unfinished."""
    statement = select(OutboxEvent.id).where(
        OutboxEvent.application_id == event.application_id,
        OutboxEvent.user_id == event.user_id,
        col(OutboxEvent.sequence) < event.sequence,
        col(OutboxEvent.status).in_(UNFINISHED),
    )
    return (await session.exec(statement.limit(1))).first() is not None


def reschedule(event: OutboxEvent, delay: timedelta, error: str | None = None) -> None:
    """Put the event back for the relay to publish after `delay`."""
    event.status = EventStatus.PENDING
    event.next_attempt_at = utcnow() + delay
    event.claimed_at = None
    if error is not None:
        event.error = error


def finish(event: OutboxEvent, status: EventStatus, note: str | None = None) -> None:
    event.status = status
    event.error = note
    event.finished_at = utcnow()
