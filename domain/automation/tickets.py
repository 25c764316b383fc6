"""Tickets in SmartLink messaging: what Notification mode and failures open."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import DomainError, ErrorCode, NotFound
from domain.models import (
    ProvisioningEvent,
    Ticket,
    TicketAction,
    TicketStatus,
    User,
)
from domain.models.columns import utcnow
from domain.pagination import Page, PageRequest, fetch_page
from domain.users import user_label

UNDONE = "The change was undone before anyone acted on it."

EVENT_PHRASES = {
    ProvisioningEvent.USER_GAINS_ACCESS: "gained access to the application",
    ProvisioningEvent.USER_LOSES_ACCESS: "lost access to the application",
    ProvisioningEvent.USER_DEACTIVATED: "was deactivated in SmartLink",
    ProvisioningEvent.USER_UPDATED: "had their profile updated",
}

ACTION_PHRASES = {
    TicketAction.CREATE_ACCOUNT: "create their account in the application",
    TicketAction.DELETE_ACCOUNT: "delete their account in the application",
    TicketAction.DEACTIVATE_ACCOUNT: "deactivate their account in the application",
    TicketAction.UPDATE_ACCOUNT: "update their account in the application",
    TicketAction.SYNC_GROUP_MEMBERS: "bring the linked group's members in line",
    TicketAction.RELEASE_HELD: "carry out the deprovisionings that wait",
}


def change_key(application_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"change:{application_id}:{user_id}"


def failure_key(application_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"failure:{application_id}:{user_id}"


def guard_key(application_id: uuid.UUID) -> str:
    return f"guard:{application_id}"


async def find_open_ticket(session: AsyncSession, open_key: str) -> Ticket | None:
    statement = select(Ticket).where(Ticket.open_key == open_key)
    return (await session.exec(statement)).first()


#: Keys sent in one IN clause, well under the bound-parameter limits of
#: SQLite (32,766) and PostgreSQL (32,767).
IN_CLAUSE_SIZE = 1_000


async def open_ticket_keys(session: AsyncSession, open_keys: list[str]) -> set[str]:
    """Return the keys among `open_keys` that belong to an open ticket."""
    found: set[str] = set()
    for start in range(0, len(open_keys), IN_CLAUSE_SIZE):
        chunk = open_keys[start : start + IN_CLAUSE_SIZE]
        statement = select(Ticket.open_key).where(col(Ticket.open_key).in_(chunk))
        found.update(key for key in await session.exec(statement) if key is not None)
    return found


async def open_tickets(session: AsyncSession, open_keys: list[str]) -> list[Ticket]:
    """Return the open tickets whose keys are among `open_keys`."""
    found: list[Ticket] = []
    for start in range(0, len(open_keys), IN_CLAUSE_SIZE):
        chunk = open_keys[start : start + IN_CLAUSE_SIZE]
        statement = select(Ticket).where(col(Ticket.open_key).in_(chunk))
        found.extend(await session.exec(statement))
    return found


def change_message(
    user: User,
    event: ProvisioningEvent,
    action: TicketAction,
    details: dict[str, Any] | None = None,
) -> str:
    drift = (details or {}).get("drift")
    change = EVENT_PHRASES[event]
    if drift:
        noun = "attribute" if len(drift) == 1 else "attributes"
        verb = "differs" if len(drift) == 1 else "differ"
        change = (
            f"has an account whose {noun} {', '.join(drift)} {verb} from "
            "SmartLink's values"
        )
    return (
        f"{user_label(user)} {change}. Resolve this "
        f"ticket to {ACTION_PHRASES[action]}, or dismiss it to leave the account as "
        "it is."
    )


async def upsert_ticket(
    session: AsyncSession,
    *,
    open_key: str,
    application_id: uuid.UUID,
    event: ProvisioningEvent,
    action: TicketAction | None,
    message: str,
    user_id: uuid.UUID | None,
    folder_id: uuid.UUID | None = None,
) -> Ticket:
    """Open a ticket, or update the open one with the same key."""
    ticket = await find_open_ticket(session, open_key)
    if ticket is None:
        ticket = Ticket(
            application_id=application_id,
            open_key=open_key,
            event=event,
            action=action,
            message=message,
            user_id=user_id,
            folder_id=folder_id,
        )
        session.add(ticket)
    else:
        ticket.event, ticket.action, ticket.message = event, action, message
        ticket.updated_at = utcnow()
    await session.flush()
    return ticket


def close(ticket: Ticket, status: TicketStatus, resolution: str) -> None:
    ticket.status = status
    ticket.resolution = resolution
    ticket.open_key = None
    ticket.closed_at = ticket.updated_at = utcnow()


async def get_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(
            f"Ticket {ticket_id} was not found; check the id against the "
            "`tickets` query.",
            field=["ticketId"],
            references={ticket_id: "Ticket"},
        )
    return ticket


def require_open(ticket: Ticket) -> None:
    if ticket.status is not TicketStatus.OPEN:
        raise DomainError(
            f"Ticket {ticket.id} is already {ticket.status.value.lower()}; there is "
            "nothing left to do on it.",
            code=ErrorCode.TICKET_CLOSED,
            field=["ticketId"],
            references={ticket.id: "Ticket"},
        )


async def list_tickets(
    session: AsyncSession,
    page: PageRequest,
    *,
    status: TicketStatus | None = None,
    application_id: uuid.UUID | None = None,
) -> Page[Ticket]:
    """List tickets, newest first."""
    statement = select(Ticket).order_by(
        col(Ticket.created_at).desc(), col(Ticket.id).desc()
    )
    if status is not None:
        statement = statement.where(Ticket.status == status)
    if application_id is not None:
        statement = statement.where(Ticket.application_id == application_id)
    return await fetch_page(session, statement, page)


async def safe_flush(session: AsyncSession) -> None:
    """Flush, turning a race on a ticket's open key into a retryable error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise DomainError(
            "Another change to the same ticket was saved at the same moment; "
            "retry the request.",
            code=ErrorCode.IN_PROGRESS,
        ) from exc
