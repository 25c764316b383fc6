"""createAccount: provision a SmartLink user's account in the target."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access import has_access
from domain.audit import record_audit
from domain.errors import DomainError
from domain.models import ProvisioningOperation, ScimAccount, User
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.matching import match_accounts
from domain.provisioning.mirror import upsert_account
from domain.provisioning.operations import Subject, fail, start_operation, succeed
from domain.provisioning.target_errors import target_error
from domain.scim.client import ScimClient
from domain.scim.errors import ScimConflict, ScimError, ScimTLSError, ScimTransportError
from domain.scim.payloads import user_payload
from domain.users import get_user

logger = logging.getLogger(__name__)

CREATE_ACCOUNT = "CREATE_ACCOUNT"
LINK_ACCOUNT = "LINK_ACCOUNT"


async def create_account(
    session: AsyncSession,
    application_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    trigger: str,
    token_name: str | None = None,
) -> ScimAccount:
    """Give the user an account in the target, linked to the user.

    An account the user already has, or one of the target's accounts that
    matches the user, is linked and returned instead of creating another. A
    409 from the target, or a timeout after which the account exists, also
    ends with the existing account adopted. Commits as it goes, because it
    holds no transaction open while the target answers. A new account or link
    is audited under `token_name`, the API token that asked for it.
    """
    connection = await require_connection(session, application_id)
    user = await get_user(session, user_id)
    if not await has_access(session, user_id, application_id):
        raise DomainError(
            f"User {user.email!r} has no access to application {application_id}; "
            "grant access, or add the user to a folder holding the application.",
            field=["userId"],
        )

    existing = (await match_accounts(session, application_id, [user])).get(user.id)
    if existing is not None:
        return await _link_existing(session, existing, user, trigger, token_name)

    subject = Subject(application_id=application_id, trigger=trigger, user_id=user.id)
    operation = await start_operation(session, subject, CREATE_ACCOUNT)
    try:
        async with open_client(connection) as client:
            resource, status = await _post_or_adopt(client, user)
    except ScimError as exc:
        error = target_error(exc, f"create the account of {user.email!r}")
        fail(operation, error)
        operation.target_status = getattr(exc, "status", None)
        await session.commit()
        logger.info("Creating account of user %s failed: %s", user.id, exc)
        raise error from exc

    account = await upsert_account(session, application_id, resource)
    previous_user_id = account.user_id
    account.user_id = user.id
    succeed(operation, scim_id=account.scim_id, status=status)
    await session.flush()
    changes: dict[str, Any] = {"user": {"old": previous_user_id, "new": user.id}}
    if status is not None:
        changes["scimId"] = {"old": None, "new": account.scim_id}
    _audit(session, account, token_name, changes)
    await session.commit()
    logger.info("Created account %r for user %s.", account.scim_id, user.id)
    return account


async def _link_existing(
    session: AsyncSession,
    account: ScimAccount,
    user: User,
    trigger: str,
    token_name: str | None,
) -> ScimAccount:
    if account.user_id == user.id:
        return account
    changes: dict[str, Any] = {"user": {"old": account.user_id, "new": user.id}}
    account.user_id = user.id
    _audit(session, account, token_name, changes)
    operation = ProvisioningOperation(
        application_id=account.application_id,
        action=LINK_ACCOUNT,
        trigger=trigger,
        user_id=user.id,
        attempts=0,
    )
    succeed(operation, scim_id=account.scim_id, status=None)
    session.add(operation)
    await session.commit()
    return account


def _audit(
    session: AsyncSession,
    account: ScimAccount,
    token_name: str | None,
    changes: dict[str, Any],
) -> None:
    assert account.user_id is not None
    record_audit(
        session,
        token_name=token_name,
        action="createAccount",
        application_id=account.application_id,
        objects={
            "Application": account.application_id,
            "User": account.user_id,
            "ScimAccount": account.id,
        },
        changes=changes,
    )


async def _post_or_adopt(
    client: ScimClient, user: User
) -> tuple[dict[str, Any], int | None]:
    """POST the user; on 409 or a lost response, adopt the account that exists.

    Returns the resource and the status of the POST (None when adopted).
    """
    payload = user_payload(
        email=user.email,
        given_name=user.given_name,
        family_name=user.family_name,
        display_name=user.display_name,
        active=user.active,
        external_id=str(user.id),
    )
    try:
        return await client.create("Users", payload), 201
    except ScimConflict:
        found = await find_user_resource(client, user)
        if found is None:
            raise
        return found, None
    except ScimTransportError as exc:
        # The POST may have reached the target before the connection failed;
        # look before reporting a failure, so a retry cannot create a second one.
        if isinstance(exc, ScimTLSError):
            raise
        found = await find_user_resource(client, user)
        if found is None:
            raise
        return found, None


async def find_user_resource(client: ScimClient, user: User) -> dict[str, Any] | None:
    """Look the user up in the target by userName, then externalId, then email."""
    for attribute, value in (
        ("userName", user.email),
        ("externalId", str(user.id)),
        ("emails.value", user.email),
    ):
        for resource in await client.search("Users", attribute, value):
            return resource
    return None
