"""Automatic mode: the job that settles a batch of provisioning events.

One job claims its events with one UPDATE. Account creations for users who
gain access take the fast path in `domain.automation.creations`: shared
queries, one SCIM client and concurrent POSTs. Every other event, and every
event of a user and application with more than one event in the batch, goes
through `process_claimed_event` one at a time, in `sequence` order, so the
order per user and application holds.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence

from domain.automation import outbox
from domain.automation.creations import settle_creations
from domain.automation.handlers import ORDER_DELAY, Outcome, process_claimed_event
from domain.db import session_scope
from domain.models import OutboxEvent, ProvisioningEvent

logger = logging.getLogger(__name__)


async def process_events(event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Outcome]:
    """Claim the events and settle them; safe to run twice for the same events.

    Returns the outcome of each claimed event. Events that another live job
    has claimed, and finished events, are left out.
    """
    outcomes: dict[uuid.UUID, Outcome] = {}
    async with session_scope() as session:
        events = await outbox.claim_many(session, event_ids)
        fast, slow = _split(events)
        waiting = await outbox.waiting_events(session, fast)
        for event in fast:
            if event.id in waiting:
                outbox.reschedule(event, ORDER_DELAY)
                outcomes[event.id] = Outcome.WAITING
        await session.commit()

        # (sequence, id) pairs, read now because a rollback in
        # `settle_creations` expires the loaded events.
        one_by_one = [(event.sequence, event.id) for event in slow]
        for application_id, group in _by_application(fast, waiting).items():
            keys = [(event.sequence, event.id) for event in group]
            settled = await settle_creations(session, application_id, group)
            outcomes.update(settled)
            one_by_one.extend(key for key in keys if key[1] not in settled)

    for _sequence, event_id in sorted(one_by_one):
        outcomes[event_id] = (await process_claimed_event(event_id)).outcome
    if outcomes:
        logger.info(
            "Settled a batch of %d events: %s",
            len(outcomes),
            dict(Counter(outcome.value for outcome in outcomes.values())),
        )
    return outcomes


def _split(
    events: list[OutboxEvent],
) -> tuple[list[OutboxEvent], list[OutboxEvent]]:
    """Split the events into account creations to run side by side, and the rest."""
    per_subject = Counter((event.application_id, event.user_id) for event in events)
    fast: list[OutboxEvent] = []
    slow: list[OutboxEvent] = []
    for event in events:
        alone = per_subject[(event.application_id, event.user_id)] == 1
        creation = (
            event.event is ProvisioningEvent.USER_GAINS_ACCESS
            and event.folder_id is None
            and event.user_id is not None
        )
        (fast if alone and creation else slow).append(event)
    return fast, slow


def _by_application(
    events: list[OutboxEvent], skipped: set[uuid.UUID]
) -> dict[uuid.UUID, list[OutboxEvent]]:
    groups: dict[uuid.UUID, list[OutboxEvent]] = {}
    for event in events:
        if event.id not in skipped:
            groups.setdefault(event.application_id, []).append(event)
    return groups
