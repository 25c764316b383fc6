"""Drift: linked accounts whose attributes in the target differ from SmartLink's.

An account drifts when someone edits it in the application, or when a change in
SmartLink was not carried over. Only attributes that the target's User schema
declares count, because the others can never match. A newly drifted account
emits a metadata update, which the Settings tab's mode then handles.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import tickets
from domain.automation.dispatch import emit
from domain.automation.settings import get_provisioning_settings
from domain.automation.state import AccessState, settling_action
from domain.automation.tracking import access_pairs
from domain.mapping.changes import differing_entries
from domain.mapping.entries import MappingKind
from domain.mapping.evaluate import resource_values, user_values
from domain.mapping.store import get_mapping
from domain.models import ProvisioningEvent, ScimAccount, TicketStatus, User
from domain.models.columns import utcnow
from domain.provisioning.account_writes import declares_path
from domain.provisioning.connection import require_connection
from domain.scim.target_schema import TargetSchema

#: The resolution of a metadata update ticket whose account matches again.
IN_LINE_AGAIN = "The account matches SmartLink's values again."


@dataclass(frozen=True)
class AttributeDrift:
    path: str
    expected: Any
    actual: Any

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "expected": self.expected, "actual": self.actual}


def account_drift(state: AccessState, schema: TargetSchema) -> list[AttributeDrift]:
    """Return the declared attributes whose target value differs from the mapping's.

    A value the target has where SmartLink's is empty is drift with `expected`
    None, unless the attribute is required, because an update cannot remove
    it. A deactivation is not drift: turning an account off belongs to the loss
    and deactivation events, which have settings of their own.
    """
    if state.account is None or not state.has_access:
        return []
    resource = state.account.raw or {}
    desired = user_values(state.mapping, state.user, state.desired_active())
    current = resource_values(state.mapping, resource)
    drift = []
    for entry in differing_entries(state.mapping, resource, desired, schema):
        path = str(entry.path)
        if path == "active" and desired[path] is False:
            continue
        if declares_path(schema, path):
            drift.append(AttributeDrift(path, desired[path], current[path]))
    return drift


async def detect_drift(session: AsyncSession, application_id: uuid.UUID) -> int:
    """Mark the application's drifted linked accounts and emit their updates.

    Call it in the refresh's transaction, after the mirror is written. A drift
    unchanged since the last refresh emits nothing, so a dismissed ticket does
    not reopen at every refresh. Returns the number of drifted accounts.
    """
    connection = await require_connection(session, application_id)
    schema = TargetSchema.from_documents(connection.schemas)
    settings = await get_provisioning_settings(session, application_id)
    mapping = await get_mapping(session, application_id, MappingKind.USER)
    linked = await _linked_accounts(session, application_id)
    with_access = await access_pairs(
        session, [user.id for _, user in linked], [application_id]
    )

    drifted = 0
    in_line = []
    for account, user in linked:
        state = AccessState(
            user=user,
            has_access=(user.id, application_id) in with_access,
            account=account,
            settings=settings,
            mapping=mapping,
            schema=schema,
        )
        found = [d.as_json() for d in account_drift(state, schema)] or None
        drifted += found is not None
        if found is None:
            in_line.append(state)
        if found == account.drift:
            continue
        account.drift = found
        account.drifted_at = utcnow() if found else None
        session.add(account)
        if found:
            details = {"drift": [item["path"] for item in found]}
            await emit(
                session, application_id, ProvisioningEvent.USER_UPDATED, user, details
            )
    await _close_settled_tickets(session, in_line, application_id)
    await session.flush()
    return drifted


async def raise_known_drift(session: AsyncSession, application_id: uuid.UUID) -> int:
    """Emit a metadata update for each account that drifted at the last refresh.

    Call it when the metadata update mode changes, so that drift found while
    the mode was MANUAL gets its ticket or its repair at once. Returns the
    number of accounts.
    """
    statement = (
        select(ScimAccount, User)
        .join(User, col(User.id) == col(ScimAccount.user_id))
        .where(
            ScimAccount.application_id == application_id,
            col(ScimAccount.drift).is_not(None),
        )
    )
    drifted = list(await session.exec(statement))
    for account, user in drifted:
        details = {"drift": [item["path"] for item in account.drift or []]}
        await emit(
            session, application_id, ProvisioningEvent.USER_UPDATED, user, details
        )
    return len(drifted)


async def _close_settled_tickets(
    session: AsyncSession, states: list[AccessState], application_id: uuid.UUID
) -> None:
    """Close the open metadata update tickets of accounts that no longer drift.

    The account may have been repaired by a job or by hand, in the target or
    in SmartLink. Either way, the ticket has no change left to make.
    """
    keys = {tickets.change_key(application_id, s.user.id): s for s in states}
    for ticket in await tickets.open_tickets(session, list(keys)):
        assert ticket.open_key is not None  # open_tickets selects by it
        state = keys[ticket.open_key]
        if ticket.event is ProvisioningEvent.USER_UPDATED and (
            settling_action(ticket.event, state) is None
        ):
            tickets.close(ticket, TicketStatus.RESOLVED, IN_LINE_AGAIN)
    await tickets.safe_flush(session)


async def _linked_accounts(
    session: AsyncSession, application_id: uuid.UUID
) -> list[tuple[ScimAccount, User]]:
    statement = (
        select(ScimAccount, User)
        .join(User, col(User.id) == col(ScimAccount.user_id))
        .where(ScimAccount.application_id == application_id)
    )
    return [(account, user) for account, user in await session.exec(statement)]
