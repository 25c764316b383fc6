"""Access state of a user in an application, and the action that settles it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access import has_access
from domain.automation.settings import get_provisioning_settings
from domain.mapping.changes import attribute_changes
from domain.mapping.entries import Mapping, MappingKind
from domain.mapping.store import get_mapping
from domain.models import (
    DeprovisionAction,
    ProvisioningEvent,
    ProvisioningSettings,
    ScimAccount,
    ScimConnection,
    TicketAction,
    User,
)
from domain.provisioning.matching import match_accounts
from domain.scim.target_schema import TargetSchema


@dataclass(frozen=True)
class AccessState:
    user: User
    has_access: bool
    account: ScimAccount | None
    settings: ProvisioningSettings
    #: The application's user mapping, which defines what an update writes.
    mapping: Mapping
    #: The target's published schemas, whose required attributes an update
    #: never removes. Without them, only userName is kept.
    schema: TargetSchema = field(default_factory=TargetSchema)

    @property
    def owned_account(self) -> ScimAccount | None:
        """The account only when it is provably the user's: linked, or by externalId.

        Deprovisioning acts on these alone, never on an account that merely
        shares an email address with the user.
        """
        account = self.account
        if account is None:
            return None
        if account.user_id == self.user.id or account.external_uuid == self.user.id:
            return account
        return None

    def desired_active(self) -> bool:
        return self.user.active and self.has_access


async def load_state(
    session: AsyncSession, application_id: uuid.UUID, user: User
) -> AccessState:
    accounts = await match_accounts(session, application_id, [user])
    connection = await session.get(ScimConnection, application_id)
    return AccessState(
        user=user,
        has_access=await has_access(session, user.id, application_id),
        account=accounts.get(user.id),
        settings=await get_provisioning_settings(session, application_id),
        mapping=await get_mapping(session, application_id, MappingKind.USER),
        schema=TargetSchema.from_documents(connection.schemas if connection else None),
    )


def settling_action(
    event: ProvisioningEvent, state: AccessState
) -> TicketAction | None:
    """Return the write that brings the target in line after `event`, if any.

    The action is worked out from the state now, not from the event alone, so
    an event whose change was undone since settles with no action.
    """
    if event is ProvisioningEvent.USER_GAINS_ACCESS:
        if state.has_access and state.user.active and state.account is None:
            return TicketAction.CREATE_ACCOUNT
        return None

    if event is ProvisioningEvent.USER_LOSES_ACCESS:
        account = state.owned_account
        if state.has_access or account is None:
            return None
        if state.settings.deprovision_action is DeprovisionAction.DELETE:
            return TicketAction.DELETE_ACCOUNT
        return TicketAction.DEACTIVATE_ACCOUNT if account.active is not False else None

    if event is ProvisioningEvent.USER_DEACTIVATED:
        account = state.owned_account
        if state.user.active or account is None or account.active is False:
            return None
        return TicketAction.DEACTIVATE_ACCOUNT

    if update_changes(state):
        return TicketAction.UPDATE_ACCOUNT
    return None


def update_changes(state: AccessState) -> dict[str, Any]:
    """Return the attributes a metadata update would write to the user's account.

    `active` is included only to reactivate: turning an account off belongs
    to the deactivation and loss events, which have settings of their own.
    """
    account = state.account
    if account is None or not state.has_access:
        return {}
    changes = attribute_changes(
        state.mapping, account, state.user, state.desired_active(), state.schema
    )
    if changes.get("active") is False:
        del changes["active"]
    return changes
