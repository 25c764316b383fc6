"""The outbox of automatic provisioning events: publishing, claiming, finishing.

Every row moves PENDING → ENQUEUED (the relay sent its job) → RUNNING (a
worker claimed it) → DONE or FAILED; HELD waits for an admin, CANCELLED was
dismissed. A job whose worker died is re-published after a deadline, and a
duplicate job finds its event claimed or finished and does nothing.

While an event is ENQUEUED, `next_attempt_at` is when the relay publishes it
again unless a worker claimed it first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import EventStatus, OutboxEvent
from domain.models.columns import utcnow

#: An ENQUEUED event not claimed after this long is published again: its
#: message may be stranded in a dead worker's prefetch. Each later copy waits
#: twice as long as the event has waited since the copy before, up to
#: REPUBLISH_MAX, because a fixed delay shorter than the queue's backlog
#: re-sends every queued event again and again, and the copies lengthen the
#: backlog further.
REPUBLISH_AFTER = timedelta(seconds=30)
REPUBLISH_MAX = timedelta(minutes=10)

#: A RUNNING event older than this is taken as abandoned by a dead worker.
#: It must exceed the longest a live job runs (the actor's time limit).
CLAIM_EXPIRES = timedelta(seconds=60)

UNFINISHED = (
    EventStatus.PENDING,
    EventStatus.ENQUEUED,
    EventStatus.RUNNING,
    EventStatus.HELD,
)


@dataclass(frozen=True)
class DueEvent:
    """An event whose job the relay should send, as it stood when selected."""

    id: uuid.UUID
    status: EventStatus
    enqueued_at: datetime | None
    selected_at: datetime


def _publishable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(
            col(OutboxEvent.status).in_([EventStatus.PENDING, EventStatus.ENQUEUED]),
            col(OutboxEvent.next_attempt_at) <= now,
        ),
        and_(
            col(OutboxEvent.status) == EventStatus.RUNNING,
            col(OutboxEvent.claimed_at) < now - CLAIM_EXPIRES,
        ),
    )


async def publishable_events(session: AsyncSession, limit: int = 500) -> list[DueEvent]:
    """Return the events whose job should be sent now, oldest first."""
    now = utcnow()
    statement = (
        select(
            col(OutboxEvent.id), col(OutboxEvent.status), col(OutboxEvent.enqueued_at)
        )
        .where(_publishable(now))
        .order_by(col(OutboxEvent.sequence))
        .limit(limit)
    )
    return [DueEvent(*row, selected_at=now) for row in await session.exec(statement)]


def republish_delay(waited: timedelta) -> timedelta:
    """Wait before the next copy of a job that stayed unclaimed for `waited`."""
    return min(max(2 * waited, REPUBLISH_AFTER), REPUBLISH_MAX)


async def mark_enqueued(session: AsyncSession, sent: list[DueEvent]) -> None:
    """Record that the jobs of these events were sent, unless a worker took them.

    A worker may take a job before this runs. Rows it changed since their
    selection are left alone: a claim changes the status, and a reschedule
    moves `next_attempt_at` past the selection time.
    """
    if not sent:
        return
    now = utcnow()
    selected_at = sent[0].selected_at
    first = []
    for event in sent:
        if event.status is EventStatus.RUNNING:
            continue
        if event.status is EventStatus.ENQUEUED and event.enqueued_at is not None:
            delay = republish_delay(now - event.enqueued_at)
            await _mark_sent(session, [event.id], selected_at, now, delay)
        else:
            first.append(event.id)
    if first:
        await _mark_sent(session, first, selected_at, now, REPUBLISH_AFTER)

    running = [event.id for event in sent if event.status is EventStatus.RUNNING]
    if running:
        await session.exec(
            update(OutboxEvent)
            .where(col(OutboxEvent.id).in_(running))
            .where(col(OutboxEvent.status) == EventStatus.RUNNING)
            .where(col(OutboxEvent.claimed_at) < selected_at - CLAIM_EXPIRES)
            .values(claimed_at=now - CLAIM_EXPIRES + REPUBLISH_AFTER)
        )


async def _mark_sent(
    session: AsyncSession,
    event_ids: list[uuid.UUID],
    selected_at: datetime,
    now: datetime,
    delay: timedelta,
) -> None:
    await session.exec(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(event_ids))
        .where(col(OutboxEvent.status).in_([EventStatus.PENDING, EventStatus.ENQUEUED]))
        .where(col(OutboxEvent.next_attempt_at) <= selected_at)
        .values(
            status=EventStatus.ENQUEUED,
            enqueued_at=now,
            next_attempt_at=now + delay,
        )
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
