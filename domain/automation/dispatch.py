"""Routing a provisioning event by its mode: nothing, a ticket, or a job."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import tickets
from domain.automation.settings import get_provisioning_settings
from domain.automation.state import load_state, settling_action
from domain.models import (
    OutboxEvent,
    ProvisioningEvent,
    ProvisioningMode,
    TicketStatus,
    User,
)

_sequence_lock = threading.Lock()
_last_sequence = 0


def next_sequence() -> int:
    """Return a number greater than any this process returned before.

    Nanoseconds since the epoch, bumped past the last value, order the
    events of one user and application across processes whose clocks agree.
    """
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(time.time_ns(), _last_sequence + 1)
        return _last_sequence


async def emit(
    session: AsyncSession,
    application_id: uuid.UUID,
    event: ProvisioningEvent,
    user: User,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that `event` happened to `user` for the application.

    Call it inside the transaction of the change, so both commit together.
    An open ticket for the same user and application is updated, or closed
    when the change it asked about was undone.
    """
    settings = await get_provisioning_settings(session, application_id)
    mode = settings.mode_for(event)

    await _settle_open_ticket(session, application_id, user, event, mode, details)
    if mode is ProvisioningMode.AUTOMATIC:
        session.add(
            OutboxEvent(
                sequence=next_sequence(),
                application_id=application_id,
                event=event,
                user_id=user.id,
                details=details or {},
            )
        )
        await session.flush()


async def emit_to_many(
    session: AsyncSession,
    application_id: uuid.UUID,
    event: ProvisioningEvent,
    users: Sequence[User],
) -> None:
    """Record that `event` happened to each of `users`, as `emit` does.

    The settings and the open tickets are read once for all the users. Users
    with an open ticket, and every user in Notification mode, go through
    `emit` one at a time, because their tickets change.
    """
    settings = await get_provisioning_settings(session, application_id)
    mode = settings.mode_for(event)
    if mode is ProvisioningMode.NOTIFICATION:
        for user in users:
            await emit(session, application_id, event, user)
        return

    keys = [tickets.change_key(application_id, user.id) for user in users]
    with_ticket = await tickets.open_ticket_keys(session, keys)
    for user, key in zip(users, keys, strict=True):
        if key in with_ticket:
            await emit(session, application_id, event, user)
        elif mode is ProvisioningMode.AUTOMATIC:
            session.add(
                OutboxEvent(
                    sequence=next_sequence(),
                    application_id=application_id,
                    event=event,
                    user_id=user.id,
                    details={},
                )
            )
    await session.flush()


async def _settle_open_ticket(
    session: AsyncSession,
    application_id: uuid.UUID,
    user: User,
    event: ProvisioningEvent,
    mode: ProvisioningMode,
    details: dict[str, Any] | None,
) -> None:
    key = tickets.change_key(application_id, user.id)
    ticket = await tickets.find_open_ticket(session, key)
    if ticket is None and mode is not ProvisioningMode.NOTIFICATION:
        return

    state = await load_state(session, application_id, user)
    if ticket is not None and settling_action(ticket.event, state) is None:
        tickets.close(ticket, TicketStatus.RESOLVED, tickets.UNDONE)
        await tickets.safe_flush(session)
        ticket = None
    if mode is not ProvisioningMode.NOTIFICATION:
        return

    action = settling_action(event, state)
    if action is not None:
        await tickets.upsert_ticket(
            session,
            open_key=key,
            application_id=application_id,
            event=event,
            action=action,
            message=tickets.change_message(user, event, action, details),
            user_id=user.id,
        )
