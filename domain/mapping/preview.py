"""previewAccount: the SCIM request that provisioning a user would send.

Nothing is sent: a create is built from the mapping, and an update is
compared with the mirrored account, as `change_account` would do it.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.state import load_state, update_changes
from domain.mapping.bodies import create_user_body
from domain.mapping.entries import MappingKind
from domain.mapping.store import connection_schema
from domain.mapping.validate import MappingProblem, mapping_problems
from domain.models import ScimAccount
from domain.provisioning.account_writes import UPDATE_ACCOUNT, declared_changes
from domain.provisioning.capabilities import connection_capabilities
from domain.provisioning.connection import require_connection
from domain.scim.capabilities import UpdateMethod
from domain.scim.client import patch_request
from domain.scim.outgoing import prepare_resource, unqualified
from domain.scim.payloads import USER_SCHEMA
from domain.scim.target_schema import TargetSchema
from domain.scim.writes import merge_values, patch_operations
from domain.users import get_user


class PreviewAction(enum.Enum):
    """The action that provisioning the user would take now."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    NONE = "NONE"


@dataclass(frozen=True)
class RequestPreview:
    """A SCIM request: its method, its path under the base URL, and its body."""

    method: str
    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class AccountPreview:
    action: PreviewAction
    request: RequestPreview | None
    #: The user's account in the target, linked or matched, if any.
    account: ScimAccount | None
    has_access: bool
    problems: list[MappingProblem] = field(default_factory=list)
    notice: str | None = None


async def preview_account(
    session: AsyncSession, application_id: uuid.UUID, user_id: uuid.UUID
) -> AccountPreview:
    """Return the request that creating or updating the user's account would send.

    A create is shown even for a user without access, so the admin can check
    the mapping first. An update is what a profile change would send: it
    never deactivates, because deactivation follows its own settings.
    """
    connection = await require_connection(session, application_id)
    user = await get_user(session, user_id)
    state = await load_state(session, application_id, user)
    checked = connection_schema(connection)
    problems = mapping_problems(state.mapping, checked)
    schema = TargetSchema.from_documents(connection.schemas)

    def preview(
        action: PreviewAction, request: RequestPreview | None
    ) -> AccountPreview:
        return AccountPreview(
            action, request, state.account, state.has_access, problems, checked.notice
        )

    account = state.account
    if account is None:
        user_type = checked.resource_type(MappingKind.USER)
        body = create_user_body(state.mapping, user, schema, user_type)
        return preview(PreviewAction.CREATE, RequestPreview("POST", "/Users", body))

    changes = update_changes(state)
    values = declared_changes(changes, schema, UPDATE_ACCOUNT, account.user_name)
    if not values:
        return preview(PreviewAction.NONE, None)
    path = f"/Users/{quote(account.scim_id, safe='')}"
    if connection_capabilities(connection).update_method is UpdateMethod.PATCH:
        body = patch_request(patch_operations(values))
        return preview(PreviewAction.UPDATE, RequestPreview("PATCH", path, body))
    # A PUT starts from the resource the target returns. The mirror contains
    # a copy of it as of the latest refresh or write.
    merged = merge_values(unqualified(account.raw or {}, USER_SCHEMA), values)
    body = prepare_resource(merged, USER_SCHEMA, schema)
    return preview(PreviewAction.UPDATE, RequestPreview("PUT", path, body))
