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

from domain.automation.dispatch import emit
from domain.automation.settings import get_provisioning_settings
from domain.automation.state import AccessState, update_changes
from domain.automation.tracking import access_pairs
from domain.models import ProvisioningEvent, ScimAccount, User
from domain.models.columns import utcnow
from domain.provisioning.account_writes import current_attributes
from domain.provisioning.connection import require_connection
from domain.scim.payloads import USER_SCHEMA
from domain.scim.target_schema import TargetSchema


@dataclass(frozen=True)
class AttributeDrift:
    path: str
    expected: Any
    actual: Any

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "expected": self.expected, "actual": self.actual}


def account_drift(state: AccessState, schema: TargetSchema) -> list[AttributeDrift]:
    """Return the declared attributes whose target value differs from SmartLink's."""
    assert state.account is not None
    actual = current_attributes(state.account)
    return [
        AttributeDrift(path, expected, actual.get(path))
        for path, expected in sorted(update_changes(state).items())
        if schema.declares(USER_SCHEMA, path)
    ]


async def detect_drift(session: AsyncSession, application_id: uuid.UUID) -> int:
    """Mark the application's drifted linked accounts and emit their updates.

    Call it in the refresh's transaction, after the mirror is written. A drift
    unchanged since the last refresh emits nothing, so a dismissed ticket does
    not reopen at every refresh. Returns the number of drifted accounts.
    """
    connection = await require_connection(session, application_id)
    schema = TargetSchema.from_documents(connection.schemas)
    settings = await get_provisioning_settings(session, application_id)
    linked = await _linked_accounts(session, application_id)
    with_access = await access_pairs(
        session, [user.id for _, user in linked], [application_id]
    )

    drifted = 0
    for account, user in linked:
        state = AccessState(
            user=user,
            has_access=(user.id, application_id) in with_access,
            account=account,
            settings=settings,
        )
        found = [d.as_json() for d in account_drift(state, schema)] or None
        drifted += found is not None
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
    await session.flush()
    return drifted


async def _linked_accounts(
    session: AsyncSession, application_id: uuid.UUID
) -> list[tuple[ScimAccount, User]]:
    statement = (
        select(ScimAccount, User)
        .join(User, col(User.id) == col(ScimAccount.user_id))
        .where(ScimAccount.application_id == application_id)
    )
    return [(account, user) for account, user in await session.exec(statement)]
