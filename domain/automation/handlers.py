"""Automatic mode: the job that settles one provisioning event in the target."""

from __future__ import annotations

import enum
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import guard, outbox, tickets
from domain.automation.actions import perform
from domain.automation.state import load_state, settling_action
from domain.db import session_scope
from domain.errors import DomainError, ErrorCode, NotFound, TargetError
from domain.models import EventStatus, OutboxEvent, TicketAction, User
from domain.provisioning.membership import sync_group_members
from domain.users import user_label

logger = logging.getLogger(__name__)

#: Attempts at a transient failure before the event fails for good.
MAX_ATTEMPTS = 8
#: First retry delay, doubled at each attempt, and the longest one.
BASE_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=5)
#: The longest `Retry-After` honoured; a longer one is cut to this.
MAX_RETRY_AFTER = timedelta(minutes=10)
#: Wait before looking again at an event queued behind an unfinished one.
ORDER_DELAY = timedelta(seconds=1)


#: Codes of failures that mean the change no longer applies, because the state
#: moved on since the event; a later event settles the new state.
SETTLED_ELSEWHERE = (ErrorCode.NO_ACCESS, ErrorCode.NOT_APPLICABLE)


class Outcome(enum.Enum):
    DONE = "done"
    SKIPPED = "skipped"
    WAITING = "waiting"
    RETRYING = "retrying"
    HELD = "held"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    note: str | None = None


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter, never shorter than the target asked for."""
    backoff: timedelta = min(BASE_DELAY * 2 ** (attempts - 1), MAX_DELAY)
    jittered = backoff * random.uniform(0.5, 1.0)
    if retry_after is not None:
        asked = min(timedelta(seconds=retry_after), MAX_RETRY_AFTER)
        return max(jittered, asked)
    return jittered


async def process_event(event_id: uuid.UUID) -> Result:
    """Claim the event and settle it; safe to run twice for the same event."""
    return await _process(event_id, claimed=False)


async def process_claimed_event(event_id: uuid.UUID) -> Result:
    """Settle an event that this job claimed already, as `process_event` does."""
    return await _process(event_id, claimed=True)


async def _process(event_id: uuid.UUID, *, claimed: bool) -> Result:
    try:
        async with session_scope() as session:
            if claimed:
                event = await session.get(OutboxEvent, event_id)
                if event is not None and event.status is not EventStatus.RUNNING:
                    event = None
            else:
                event = await outbox.claim(session, event_id)
            if event is None:
                return Result(Outcome.SKIPPED, "already finished or taken")
            if await outbox.has_unfinished_predecessor(session, event):
                outbox.reschedule(event, ORDER_DELAY)
                return Result(Outcome.WAITING, "an earlier event is unfinished")
            return await _settle(session, event)
    except IntegrityError:
        # Another worker wrote the same ticket or lock at the same moment.
        logger.info("Event %s collided with a concurrent write; retrying.", event_id)
        async with session_scope() as session:
            event = await session.get(OutboxEvent, event_id)
            if event is not None and event.status is EventStatus.RUNNING:
                outbox.reschedule(event, ORDER_DELAY)
        return Result(Outcome.WAITING, "collided with a concurrent write")


async def _settle(session: AsyncSession, event: OutboxEvent) -> Result:
    user = await session.get(User, event.user_id) if event.user_id else None
    if user is None:
        outbox.finish(event, EventStatus.DONE, "The user no longer exists.")
        return Result(Outcome.DONE, "user gone")
    if event.folder_id is not None:
        return await _settle_group(session, event, user)

    try:
        state = await load_state(session, event.application_id, user)
    except DomainError as error:
        return await fail_or_retry(session, event, user, None, error)
    action = settling_action(event.event, state)
    if action is None:
        outbox.finish(
            event, EventStatus.DONE, "Nothing to do: the target already agrees."
        )
        return Result(Outcome.DONE, "nothing to do")

    removal = action in (TicketAction.DELETE_ACCOUNT, TicketAction.DEACTIVATE_ACCOUNT)
    if removal and await guard.should_hold(session, event, state.settings):
        await guard.hold(session, event, state.settings)
        logger.warning(
            "Held event %s: mass-deprovisioning threshold reached.", event.id
        )
        return Result(Outcome.HELD)

    event.attempts += 1
    try:
        note = await perform(
            session,
            event.application_id,
            action,
            state,
            trigger=f"{guard.AUTOMATIC_TRIGGER}{event.event.value}",
            look_first=await outbox.retry_must_look_first(session, event),
        )
    except DomainError as error:
        return await fail_or_retry(session, event, user, action, error)

    # A created account joins its user's folders' groups through
    # `create_checked_account`, which queues their syncs.
    outbox.finish(event, EventStatus.DONE, note)
    logger.info("Event %s settled: %s", event.id, note)
    return Result(Outcome.DONE, note)


async def _settle_group(
    session: AsyncSession, event: OutboxEvent, user: User
) -> Result:
    """Bring the folder's linked group in line with the folder's members."""
    assert event.folder_id is not None
    event.attempts += 1
    try:
        sync = await sync_group_members(
            session,
            event.application_id,
            event.folder_id,
            trigger=f"{guard.AUTOMATIC_TRIGGER}{event.event.value}",
        )
    except NotFound as error:
        outbox.finish(event, EventStatus.DONE, f"Nothing to do: {error.message}")
        return Result(Outcome.DONE, error.message)
    except DomainError as error:
        return await fail_or_retry(
            session, event, user, TicketAction.SYNC_GROUP_MEMBERS, error
        )

    note = f"Group members in line: {sync.added} added, {sync.removed} removed."
    outbox.finish(event, EventStatus.DONE, note)
    logger.info("Event %s settled: %s", event.id, note)
    return Result(Outcome.DONE, note)


async def fail_or_retry(
    session: AsyncSession,
    event: OutboxEvent,
    user: User,
    action: TicketAction | None,
    error: DomainError,
) -> Result:
    """Retry a transient failure later; fail for good and open a ticket otherwise."""
    if error.code in SETTLED_ELSEWHERE:
        outbox.finish(event, EventStatus.DONE, f"Nothing to do: {error.message}")
        return Result(Outcome.DONE, error.message)
    if error.code is ErrorCode.DRY_RUN:
        # Retrying would only record the same request again.
        outbox.finish(event, EventStatus.DONE, error.message)
        logger.info("Event %s settled in dry run: %s", event.id, error.message)
        return Result(Outcome.DONE, error.message)
    if error.code is ErrorCode.IN_PROGRESS:
        outbox.reschedule(event, ORDER_DELAY)
        return Result(Outcome.WAITING, error.message)

    transient = isinstance(error, TargetError) and error.transient
    if transient and event.attempts < MAX_ATTEMPTS:
        retry_after = error.retry_after if isinstance(error, TargetError) else None
        delay = retry_delay(event.attempts, retry_after)
        outbox.reschedule(event, delay, error.message)
        logger.info(
            "Event %s failed (attempt %d), retrying in %.1f s: %s",
            event.id,
            event.attempts,
            delay.total_seconds(),
            error.message,
        )
        return Result(Outcome.RETRYING, error.message)

    outbox.finish(event, EventStatus.FAILED, error.message)
    await tickets.upsert_ticket(
        session,
        open_key=tickets.failure_key(event.application_id, user.id),
        application_id=event.application_id,
        event=event.event,
        action=action,
        folder_id=event.folder_id,
        message=(
            f"Automatic provisioning for {user_label(user)} failed "
            f"after {event.attempts} attempt(s): {error.message} Resolve this ticket "
            "to try again, or dismiss it."
        ),
        user_id=user.id,
    )
    logger.warning("Event %s failed for good: %s", event.id, error.message)
    return Result(Outcome.FAILED, error.message)
