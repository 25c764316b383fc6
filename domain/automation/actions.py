"""Performing a settling action on the target, for a job or a resolved ticket."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.state import AccessState, update_changes
from domain.errors import DomainError, ErrorCode
from domain.models import ScimAccount, TicketAction
from domain.provisioning.account_actions import delete_account
from domain.provisioning.account_creation import (
    create_account,
    create_checked_account,
)
from domain.provisioning.account_writes import (
    DEACTIVATE_ACCOUNT,
    UPDATE_ACCOUNT,
    change_account,
)
from domain.provisioning.connection import require_connection


async def perform(
    session: AsyncSession,
    application_id: uuid.UUID,
    action: TicketAction,
    state: AccessState,
    *,
    trigger: str,
    look_first: bool = False,
) -> str:
    """Carry out `action` and return a sentence saying what was done.

    `look_first` makes an account creation search the target before POSTing,
    for a retry whose first attempt may have created the account already.
    """
    user = state.user
    if action is TicketAction.CREATE_ACCOUNT:
        created = await _create(session, application_id, state, trigger, look_first)
        return f"Account {created.user_name!r} is linked to {user.email!r}."

    account = (
        state.owned_account
        if action is not TicketAction.UPDATE_ACCOUNT
        else state.account
    )
    if account is None:
        raise DomainError(
            f"User {user.email!r} has no account in the application any more; "
            "there is nothing to change.",
            code=ErrorCode.NOT_APPLICABLE,
        )

    if action is TicketAction.DELETE_ACCOUNT:
        deleted = await delete_account(session, account.id, trigger=trigger)
        return (
            f"Account {account.user_name!r} was already gone from the target."
            if deleted.already_deleted
            else f"Account {account.user_name!r} was deleted."
        )
    if action is TicketAction.DEACTIVATE_ACCOUNT:
        await change_account(
            session,
            account,
            {"active": False},
            action=DEACTIVATE_ACCOUNT,
            trigger=trigger,
        )
        return f"Account {account.user_name!r} was deactivated."

    changes = update_changes(state)
    if not changes:
        return f"Account {account.user_name!r} already matches {user.email!r}."
    sent = await change_account(
        session, account, changes, action=UPDATE_ACCOUNT, trigger=trigger
    )
    if not sent:
        return (
            f"Account {account.user_name!r} was not updated: the target's schema "
            f"lacks {', '.join(changes)}."
        )
    return f"Account {account.user_name!r} was updated: {', '.join(sent)}."


async def _create(
    session: AsyncSession,
    application_id: uuid.UUID,
    state: AccessState,
    trigger: str,
    look_first: bool,
) -> ScimAccount:
    """Create the account, trusting `state` when it shows access and no account.

    Callers load `state` in the same transaction just before, so its checks
    need not run twice; any other state goes through every check again.
    """
    if state.has_access and state.account is None:
        connection = await require_connection(session, application_id)
        return await create_checked_account(
            session, connection, state.user, trigger=trigger, look_first=look_first
        )
    return await create_account(
        session, application_id, state.user.id, trigger=trigger, look_first=look_first
    )
