"""Changes to an existing account in the target: update, deactivate, delete.

Each write is logged as a provisioning operation and applied to the mirror
as soon as the target accepts it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import ScimAccount, ScimConnection, User
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.mirror import apply_account
from domain.provisioning.operations import Subject, fail, start_operation, succeed
from domain.provisioning.target_errors import target_error
from domain.scim.client import ScimClient
from domain.scim.errors import ScimError, ScimNotFound
from domain.scim.payloads import get_key, parse_bool

logger = logging.getLogger(__name__)

UPDATE_ACCOUNT = "UPDATE_ACCOUNT"
DEACTIVATE_ACCOUNT = "DEACTIVATE_ACCOUNT"
ACTIVATE_ACCOUNT = "ACTIVATE_ACCOUNT"
DELETE_ACCOUNT = "DELETE_ACCOUNT"


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


def supports_patch(connection: ScimConnection) -> bool:
    patch = get_key(connection.service_provider_config or {}, "patch")
    return parse_bool(get_key(patch, "supported")) is not False


def patch_operations(changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn attribute changes into `replace` operations, lowercase as RFC 7644 sends."""
    operations = []
    for path, value in changes.items():
        if path == "emails":
            value = [{"value": value, "type": "work", "primary": True}]
        operations.append({"op": "replace", "path": path, "value": value})
    return operations


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
        returned = await client.patch(
            "Users", account.scim_id, patch_operations(changes)
        )
        if returned is not None and get_key(returned, "id") is not None:
            return returned
        return await client.get_resource("Users", account.scim_id)

    resource = await client.get_resource("Users", account.scim_id)
    returned = await client.replace(
        "Users", account.scim_id, _merged_resource(resource, changes)
    )
    if returned is not None and get_key(returned, "id") is not None:
        return returned
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
        application_id=account.application_id, trigger=trigger, user_id=account.user_id
    )
    operation = await start_operation(session, subject, action)
    try:
        async with open_client(connection) as client:
            resource = await _write_changes(client, connection, account, changes)
    except ScimError as exc:
        error = target_error(exc, f"update account {account.user_name!r}")
        fail(operation, error)
        operation.target_status = error.status
        operation.scim_id = account.scim_id
        await session.commit()
        raise error from exc

    apply_account(account, resource)
    session.add(account)
    succeed(operation, scim_id=account.scim_id, status=200)
    await session.commit()
    logger.info("%s %r: %s.", action, account.scim_id, ", ".join(changes))
    return account


async def delete_account_in_target(
    session: AsyncSession, account: ScimAccount, *, trigger: str
) -> bool:
    """DELETE the account in the target and drop it from the mirror.

    Returns False when the target had already deleted it (404), which counts
    as success.
    """
    connection = await require_connection(session, account.application_id)
    subject = Subject(
        application_id=account.application_id, trigger=trigger, user_id=account.user_id
    )
    operation = await start_operation(session, subject, DELETE_ACCOUNT)
    existed = True
    try:
        async with open_client(connection) as client:
            await client.delete("Users", account.scim_id)
    except ScimNotFound:
        existed = False
    except ScimError as exc:
        error = target_error(exc, f"delete account {account.user_name!r}")
        fail(operation, error)
        operation.target_status = error.status
        operation.scim_id = account.scim_id
        await session.commit()
        raise error from exc

    succeed(operation, scim_id=account.scim_id, status=204 if existed else 404)
    await session.delete(account)
    await session.commit()
    return existed
