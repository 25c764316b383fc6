"""resolveTicket and dismissTicket: an admin settles a ticket."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import guard, tickets
from domain.automation.actions import perform
from domain.automation.state import load_state, settling_action
from domain.errors import DomainError, ErrorCode
from domain.models import EventStatus, Ticket, TicketAction, TicketStatus, User
from domain.models.columns import utcnow
from domain.provisioning.membership import sync_group_members


async def resolve_ticket(
    session: AsyncSession, ticket_id: uuid.UUID, *, trigger: str
) -> Ticket:
    """Perform the ticket's action, then close it as resolved.

    When the action no longer applies (someone settled it another way), the
    ticket closes without writing to the target. When the target fails, the
    ticket stays open and the error is raised.
    """
    ticket = await tickets.get_ticket(session, ticket_id)
    tickets.require_open(ticket)

    if ticket.action is TicketAction.RELEASE_HELD:
        released = await _release_held(session, ticket.application_id)
        tickets.close(ticket, TicketStatus.RESOLVED, f"{released} removals released.")
        await session.flush()
        return ticket

    note = await _perform_for_ticket(session, ticket, trigger)
    ticket = await tickets.get_ticket(session, ticket_id)
    tickets.close(ticket, TicketStatus.RESOLVED, note)
    await session.flush()
    return ticket


async def _perform_for_ticket(
    session: AsyncSession, ticket: Ticket, trigger: str
) -> str:
    if ticket.action is TicketAction.SYNC_GROUP_MEMBERS and ticket.folder_id:
        sync = await sync_group_members(
            session, ticket.application_id, ticket.folder_id, trigger=trigger
        )
        return f"Group members in line: {sync.added} added, {sync.removed} removed."
    user = await session.get(User, ticket.user_id) if ticket.user_id else None
    if user is None:
        return "Nothing to do: the user no longer exists."
    state = await load_state(session, ticket.application_id, user)
    action = settling_action(ticket.event, state)
    if action is None:
        return "Nothing to do: the application already agrees."
    try:
        return await perform(
            session,
            ticket.application_id,
            action,
            state,
            trigger=trigger,
            look_first=True,
        )
    except DomainError as error:
        if error.code is ErrorCode.NOT_APPLICABLE:
            return error.message
        raise


async def dismiss_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket:
    """Close the ticket without acting; a held batch is cancelled."""
    ticket = await tickets.get_ticket(session, ticket_id)
    tickets.require_open(ticket)

    resolution = "Dismissed: nothing was changed in the application."
    if ticket.action is TicketAction.RELEASE_HELD:
        cancelled = 0
        for event in await guard.held_events(session, ticket.application_id):
            event.status = EventStatus.CANCELLED
            event.finished_at = utcnow()
            event.error = "Cancelled by an admin at the mass-deprovisioning guard."
            cancelled += 1
        resolution = f"Dismissed: {cancelled} held removals were cancelled."

    tickets.close(ticket, TicketStatus.DISMISSED, resolution)
    await session.flush()
    return ticket


async def _release_held(session: AsyncSession, application_id: uuid.UUID) -> int:
    events = await guard.held_events(session, application_id)
    for event in events:
        event.status = EventStatus.PENDING
        event.guard_released = True
        event.next_attempt_at = utcnow()
    return len(events)
