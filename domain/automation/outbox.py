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
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.guard import AUTOMATIC_TRIGGER
from domain.models import EventStatus, OutboxEvent
from domain.models.columns import utcnow
from domain.provisioning.account_creation import CREATE_ACCOUNT
from domain.provisioning.operations import (
    abandon_running_operations,
    may_have_written,
)

#: An ENQUEUED event not claimed after this long is published again: its
#: message may be stranded in a dead worker's prefetch. Each later copy waits
#: twice as long as the event waited since the copy before, up to
#: REPUBLISH_MAX, because a fixed delay shorter than the queue's backlog would
#: send every queued event again and again, and the copies lengthen the backlog.
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


def _claim_expired(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(OutboxEvent.status) == EventStatus.RUNNING,
        col(OutboxEvent.claimed_at) < now - CLAIM_EXPIRES,
    )


def _publishable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            col(OutboxEvent.status).in_([EventStatus.PENDING, EventStatus.ENQUEUED]),
            col(OutboxEvent.next_attempt_at) <= now,
        ),
        _claim_expired(now),
    )


def republish_delay(waited: timedelta) -> timedelta:
    """Wait before the next copy of a job that stayed unclaimed for `waited`."""
    return min(max(2 * waited, REPUBLISH_AFTER), REPUBLISH_MAX)


async def reserve_due_events(
    session: AsyncSession, limit: int = 500
) -> list[uuid.UUID]:
    """Mark the events whose job should be sent now as ENQUEUED; returns their ids.

    Marking comes before sending, because a worker may take and reschedule
    an event as soon as its job is sent, and a later mark would undo that.
    An event taken from a dead worker returns to ENQUEUED, so a new worker
    can claim it.
    """
    now = utcnow()
    statement = (
        select(
            col(OutboxEvent.id), col(OutboxEvent.status), col(OutboxEvent.enqueued_at)
        )
        .where(_publishable(now))
        .order_by(col(OutboxEvent.sequence))
        .limit(limit)
    )
    by_delay: dict[timedelta, list[uuid.UUID]] = {}
    event_ids = []
    for event_id, status, enqueued_at in list(await session.exec(statement)):
        if status is EventStatus.RUNNING:
            if await _take_over(session, event_id, now, EventStatus.ENQUEUED):
                event_ids.append(event_id)
            continue
        delay = REPUBLISH_AFTER
        if status is EventStatus.ENQUEUED and enqueued_at is not None:
            delay = republish_delay(now - enqueued_at)
        by_delay.setdefault(delay, []).append(event_id)
        event_ids.append(event_id)

    for delay, ids in by_delay.items():
        await session.exec(
            update(OutboxEvent)
            .where(col(OutboxEvent.id).in_(ids))
            .where(_publishable(now))
            .values(
                status=EventStatus.ENQUEUED,
                enqueued_at=now,
                next_attempt_at=now + delay,
                claimed_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    await session.commit()
    return event_ids


async def _take_over(
    session: AsyncSession, event_id: uuid.UUID, now: datetime, status: EventStatus
) -> bool:
    """Move an event from a dead worker's expired claim to `status`.

    The dead job's operations still hold their locks, so they are failed
    here, and the next attempt can start at once. Returns False when the
    claim is no longer expired, because the event moved on meanwhile.
    """
    values: dict[str, Any] = {"status": status, "claimed_at": now}
    if status is EventStatus.ENQUEUED:
        values = {
            "status": status,
            "enqueued_at": now,
            "next_attempt_at": now + REPUBLISH_AFTER,
            "claimed_at": None,
        }
    result = await session.exec(
        update(OutboxEvent)
        .where(col(OutboxEvent.id) == event_id)
        .where(_claim_expired(now))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    subject = select(
        OutboxEvent.application_id, OutboxEvent.user_id, OutboxEvent.folder_id
    ).where(OutboxEvent.id == event_id)
    application_id, user_id, folder_id = (await session.exec(subject)).one()
    await abandon_running_operations(
        session,
        application_id,
        trigger_prefix=AUTOMATIC_TRIGGER,
        user_id=user_id,
        folder_id=folder_id,
        reason=(
            f"Abandoned: the worker running event {event_id} stopped before it "
            "finished; the event is tried again."
        ),
    )
    return True


async def release_unsent(session: AsyncSession, event_ids: list[uuid.UUID]) -> None:
    """Put back to PENDING the reserved events whose job could not be sent."""
    if not event_ids:
        return
    await session.exec(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(event_ids))
        .where(col(OutboxEvent.status) == EventStatus.ENQUEUED)
        .values(status=EventStatus.PENDING, enqueued_at=None, next_attempt_at=utcnow())
    )
    await session.commit()


async def claim(session: AsyncSession, event_id: uuid.UUID) -> OutboxEvent | None:
    """Take the event for this worker; None when it is finished or taken."""
    now = utcnow()
    result = await session.exec(
        update(OutboxEvent)
        .where(col(OutboxEvent.id) == event_id)
        .where(col(OutboxEvent.status).in_([EventStatus.PENDING, EventStatus.ENQUEUED]))
        .values(status=EventStatus.RUNNING, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    claimed = result.rowcount == 1
    if not claimed:
        claimed = await _take_over(session, event_id, now, EventStatus.RUNNING)
    await session.commit()
    if not claimed:
        return None
    event = await session.get(OutboxEvent, event_id)
    if event is not None:
        await session.refresh(event)
    return event


async def claim_many(
    session: AsyncSession, event_ids: Sequence[uuid.UUID]
) -> list[OutboxEvent]:
    """Take the events for this worker, in `sequence` order, with one UPDATE.

    Events that are finished or taken by a live worker are left out, as
    `claim` does for one event.
    """
    now = utcnow()
    result = await session.exec(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(event_ids))
        .where(col(OutboxEvent.status).in_([EventStatus.PENDING, EventStatus.ENQUEUED]))
        .values(status=EventStatus.RUNNING, claimed_at=now)
        .returning(col(OutboxEvent.id))
        .execution_options(synchronize_session=False)
    )
    claimed = [row[0] for row in result]
    # Events of a dead worker are taken over one by one, which also abandons
    # that worker's operations so their locks do not hold this job up.
    for event_id in set(event_ids) - set(claimed):
        if await _take_over(session, event_id, now, EventStatus.RUNNING):
            claimed.append(event_id)
    await session.commit()
    if not claimed:
        return []
    statement = (
        select(OutboxEvent)
        .where(col(OutboxEvent.id).in_(claimed))
        .order_by(col(OutboxEvent.sequence))
    )
    return list(await session.exec(statement))


async def waiting_events(
    session: AsyncSession, events: Sequence[OutboxEvent]
) -> set[uuid.UUID]:
    """Return the ids of `events` behind an unfinished event not among them.

    The batch form of `has_unfinished_predecessor`, with one query. Events of
    the same user and application within `events` do not count, so the
    caller settles those in `sequence` order itself.
    """
    own_ids = [event.id for event in events]
    user_ids = {event.user_id for event in events if event.user_id is not None}
    if not user_ids:
        return set()
    statement = (
        select(
            OutboxEvent.application_id,
            OutboxEvent.user_id,
            func.min(OutboxEvent.sequence),
        )
        .where(
            col(OutboxEvent.application_id).in_({e.application_id for e in events}),
            col(OutboxEvent.user_id).in_(user_ids),
            col(OutboxEvent.status).in_(UNFINISHED),
            col(OutboxEvent.id).not_in(own_ids),
        )
        .group_by(col(OutboxEvent.application_id), col(OutboxEvent.user_id))
    )
    earliest = {
        (application_id, user_id): sequence
        for application_id, user_id, sequence in await session.exec(statement)
    }
    return {
        event.id
        for event in events
        if (first := earliest.get((event.application_id, event.user_id))) is not None
        and first < event.sequence
    }


async def has_unfinished_predecessor(session: AsyncSession, event: OutboxEvent) -> bool:
    """Return whether an earlier event of this user and application is unfinished."""
    statement = select(OutboxEvent.id).where(
        OutboxEvent.application_id == event.application_id,
        OutboxEvent.user_id == event.user_id,
        col(OutboxEvent.sequence) < event.sequence,
        col(OutboxEvent.status).in_(UNFINISHED),
    )
    return (await session.exec(statement.limit(1))).first() is not None


async def retry_must_look_first(session: AsyncSession, event: OutboxEvent) -> bool:
    """Return whether an earlier attempt at the event may have created the
    account, so the next one must search the target before POSTing."""
    if event.attempts <= 1 or event.user_id is None:
        return False
    return await may_have_written(
        session,
        event.application_id,
        event.user_id,
        CREATE_ACCOUNT,
        trigger_prefix=AUTOMATIC_TRIGGER,
        since=event.created_at,
    )


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


def finished_row(
    event_id: uuid.UUID, status: EventStatus, note: str | None = None
) -> dict[str, Any]:
    """Return the columns that `finish` sets, for `bulk.update_rows`."""
    return {"id": event_id, "status": status, "error": note, "finished_at": utcnow()}


def unattempted_row(event_id: uuid.UUID, attempts: int) -> dict[str, Any]:
    """Return the columns that put a claimed event back unattempted, due now,
    for `bulk.update_rows`."""
    return {
        "id": event_id,
        "status": EventStatus.PENDING,
        "attempts": attempts,
        "next_attempt_at": utcnow(),
        "claimed_at": None,
    }
