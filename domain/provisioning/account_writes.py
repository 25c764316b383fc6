"""Changes to an existing account in the target: update and deactivate.

Each write is logged as a provisioning operation and applied to the mirror
as soon as the target accepts it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import ScimAccount, ScimConnection, User
from domain.provisioning.capabilities import supports_patch
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.mirror import apply_account
from domain.provisioning.operations import (
    Subject,
    record_target_failure,
    start_operation,
    succeed,
)
from domain.scim.client import ScimClient
from domain.scim.errors import ScimError
from domain.scim.payloads import get_key

logger = logging.getLogger(__name__)

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

UPDATE_ACCOUNT = "UPDATE_ACCOUNT"
DEACTIVATE_ACCOUNT = "DEACTIVATE_ACCOUNT"
ACTIVATE_ACCOUNT = "ACTIVATE_ACCOUNT"


def desired_attributes(user: User, active: bool) -> dict[str, Any]:
    """The attribute values an account of `user` should hold, by SCIM path."""
    return {
        "userName": user.email,
        "name.givenName": user.given_name,
        "name.familyName": user.family_name,
        "displayName": user.display_name,
        "emails": user.email,
        "active": active,
    }


def current_attributes(account: ScimAccount) -> dict[str, Any]:
    return {
        "userName": account.user_name,
        "name.givenName": account.given_name,
        "name.familyName": account.family_name,
        "displayName": account.display_name,
        "emails": account.email,
        "active": account.active,
    }


def attribute_changes(account: ScimAccount, user: User, active: bool) -> dict[str, Any]:
    """Return the attributes whose desired value differs from the mirror's.

    Strings compare case-sensitively, because a target shows what it stores.
    """
    current = current_attributes(account)
    return {
        path: value
        for path, value in desired_attributes(user, active).items()
        if value is not None and current.get(path) != value
    }


def patch_request(changes: dict[str, Any]) -> dict[str, Any]:
    """Build a PatchOp of `replace` operations, lowercase as RFC 7644 writes them."""
    operations = []
    for path, value in changes.items():
        if path == "emails":
            value = [{"value": value, "type": "work", "primary": True}]
        operations.append({"op": "replace", "path": path, "value": value})
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}


def _merged_resource(
    resource: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply `changes` to a full resource for a PUT, dropping read-only `meta`."""
    merged = {key: value for key, value in resource.items() if key.lower() != "meta"}
    for path, value in changes.items():
        if path == "emails":
            merged["emails"] = [{"value": value, "type": "work", "primary": True}]
        elif path.startswith("name."):
            name = dict(get_key(merged, "name") or {})
            name[path.split(".", 1)[1]] = value
            merged["name"] = name
        else:
            merged[path] = value
    return merged


async def _write_changes(
    client: ScimClient,
    connection: ScimConnection,
    account: ScimAccount,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Send `changes` by PATCH, or by GET and PUT on a target without PATCH."""
    if supports_patch(connection):
        response = await client.patch("Users", account.scim_id, patch_request(changes))
    else:
        resource = await client.get_resource("Users", account.scim_id)
        merged = _merged_resource(resource, changes)
        response = await client.replace("Users", account.scim_id, merged)
    if response.body is not None and get_key(response.body, "id") is not None:
        return response.body
    return await client.get_resource("Users", account.scim_id)


async def change_account(
    session: AsyncSession,
    account: ScimAccount,
    changes: dict[str, Any],
    *,
    action: str,
    trigger: str,
) -> ScimAccount:
    """Write attribute `changes` to the account in the target and the mirror."""
    connection = await require_connection(session, account.application_id)
    subject = Subject(
        application_id=account.application_id,
        trigger=trigger,
        user_id=account.user_id,
        scim_id=account.scim_id,
    )
    operation = await start_operation(session, subject, action)
    try:
        async with open_client(connection) as client:
            resource = await _write_changes(client, connection, account, changes)
    except ScimError as exc:
        doing = f"update account {account.user_name!r}"
        raise await record_target_failure(session, operation, exc, doing) from exc

    apply_account(account, resource)
    session.add(account)
    succeed(operation, scim_id=account.scim_id, status=200)
    await session.commit()
    logger.info("%s %r: %s.", action, account.scim_id, ", ".join(changes))
    return account
