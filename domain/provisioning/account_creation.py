"""createAccount: provision a SmartLink user's account in the target."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access import has_access
from domain.automation.groups import follow_linked_account
from domain.automation.settings import dry_run_enabled
from domain.config import get_settings
from domain.errors import DomainError, ErrorCode
from domain.mapping.bodies import create_user_body
from domain.mapping.entries import Mapping, MappingKind
from domain.mapping.store import get_mapping
from domain.models import ScimAccount, ScimConnection, User
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.matching import match_accounts
from domain.provisioning.mirror import upsert_account
from domain.provisioning.operations import (
    Subject,
    fail,
    record_local_change,
    record_target_failure,
    record_withheld,
    start_operation,
    succeed,
)
from domain.scim.client import ScimClient
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import (
    ScimConflict,
    ScimError,
    ScimInvalidResponse,
    ScimTLSError,
    ScimTransportError,
)
from domain.scim.lookup import Criterion, find_first
from domain.scim.payloads import account_fields
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
    look_first: bool = False,
) -> ScimAccount:
    """Give the user an account in the target, linked to the user.

    An account the user already has, or one of the target's accounts that
    matches the user, is linked and returned instead of creating another. A
    409 from the target, or a timeout after which the account exists, also
    ends with the existing account adopted, unless another user is linked to
    it (ALREADY_LINKED); `look_first` searches the target before POSTing, for
    retries of an attempt that may have reached it. Commits as it goes,
    because it holds no transaction open while the target answers.
    """
    connection = await require_connection(session, application_id)
    user = await get_user(session, user_id)
    if not await has_access(session, user_id, application_id):
        raise DomainError(
            f"User {user.email!r} has no access to application {application_id}; "
            "grant access, or add the user to a folder holding the application.",
            field=["userId"],
            code=ErrorCode.NO_ACCESS,
            references={application_id: "Application"},
        )

    existing = (await match_accounts(session, application_id, [user])).get(user.id)
    if existing is not None:
        return await _link_existing(session, existing, user, trigger)
    return await create_checked_account(
        session, connection, user, trigger=trigger, look_first=look_first
    )


async def create_checked_account(
    session: AsyncSession,
    connection: ScimConnection,
    user: User,
    *,
    trigger: str,
    look_first: bool = False,
) -> ScimAccount:
    """Create the user's account in the target, skipping `create_account`'s checks.

    For callers that have just read, in the session's current transaction,
    that the user has access and matches no account; it saves those queries.
    In dry run, the POST is logged and `DryRun` raised, so no account is
    linked or mirrored.
    """
    application_id = connection.application_id
    mapping = await get_mapping(session, application_id, MappingKind.USER)
    dry_run = await dry_run_enabled(session, application_id)
    subject = Subject(application_id=application_id, trigger=trigger, user_id=user.id)
    operation = await start_operation(session, subject, CREATE_ACCOUNT)
    doing = f"create the account of {user.email!r}"
    try:
        async with open_client(connection, dry_run=dry_run) as client:
            resource, status = await send_creation(
                client, user, mapping, look_first=look_first
            )
    except WriteWithheld as withheld:
        raise await record_withheld(session, operation, withheld, doing) from None
    except ScimError as exc:
        logger.info("Creating account of user %s failed: %s", user.id, exc)
        raise await record_target_failure(session, operation, exc, doing) from exc

    account = await upsert_account(session, application_id, resource)
    if account.user_id is not None and account.user_id != user.id:
        # Another user is linked to the target's account with this userName,
        # so linking it here would silently move that link.
        error = await linked_elsewhere(session, account, user, account.user_id)
        fail(operation, error)
        operation.target_status = status
        await session.commit()
        logger.info(
            "Not linking account %r to user %s because user %s is linked to it.",
            account.scim_id,
            user.id,
            account.user_id,
        )
        raise error

    account.user_id = user.id
    succeed(operation, scim_id=account.scim_id, status=status)
    await follow_linked_account(session, application_id, user)
    await session.commit()
    logger.info("Created account %r for user %s.", account.scim_id, user.id)
    return account


async def _link_existing(
    session: AsyncSession, account: ScimAccount, user: User, trigger: str
) -> ScimAccount:
    if account.user_id == user.id:
        return account
    account.user_id = user.id
    subject = Subject(
        application_id=account.application_id,
        trigger=trigger,
        user_id=user.id,
        scim_id=account.scim_id,
    )
    record_local_change(session, subject, LINK_ACCOUNT)
    await follow_linked_account(session, account.application_id, user)
    await session.commit()
    return account


async def linked_elsewhere(
    session: AsyncSession, account: ScimAccount, user: User, owner_id: uuid.UUID
) -> DomainError:
    """Return the ALREADY_LINKED error for an account linked to `owner_id`."""
    owner = await get_user(session, owner_id)
    return DomainError(
        f"Could not create the account of {user.email!r}: the target already has "
        f"account {account.scim_id!r} with userName {account.user_name!r}, linked "
        f"to user {owner.email!r}. Change one of the two users' email, or link "
        "the account to this user from the Accounts tab.",
        field=["userId"],
        code=ErrorCode.ALREADY_LINKED,
    )


async def send_creation(
    client: ScimClient, user: User, mapping: Mapping, *, look_first: bool = False
) -> tuple[dict[str, Any], int | None]:
    """Create the user's resource in the target, or find the one that exists.

    The POST's body follows the application's user `mapping`. Returns the
    resource and the POST's status as `_post_or_adopt` does, and None as the
    status when `look_first` found the resource without a POST. Writes
    nothing to the database.
    """
    found = await find_user_resource(client, user) if look_first else None
    if found is not None:
        return found, None
    payload = create_user_body(mapping, user, client.schema, client.resource_types.user)
    return await _post_or_adopt(client, user, payload)


async def _post_or_adopt(
    client: ScimClient, user: User, payload: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    """POST the user's `payload`; on 409 or a lost response, adopt the existing one.

    Returns the resource and the status the target returned for the POST: 201,
    409 when an account existed, or None when the response was lost. After a
    409, with or without `scimType`, every account is read if the filters find
    none, because the 409 shows that one exists.
    """
    try:
        created = await client.create("Users", payload)
    except ScimConflict as exc:
        found = await find_user_resource(client, user, scan=True)
        if found is None:
            raise
        return found, exc.status
    except ScimTransportError as exc:
        # The POST may have reached the target before the connection failed;
        # look before reporting a failure, so a retry cannot create a second one.
        if isinstance(exc, ScimTLSError):
            raise
        found = await find_user_resource(client, user)
        if found is None:
            raise
        return found, None

    if created is not None:
        return created, 201
    # The target accepted the POST but returned no resource and no location.
    found = await find_user_resource(client, user, scan=True)
    if found is None:
        raise ScimInvalidResponse(
            f"POST {client.base_url}/Users succeeded but returned no resource, and "
            f"no account with userName {user.email!r} could be found afterwards.",
            method="POST",
            url=f"{client.base_url}/Users",
        )
    return found, 201


async def find_user_resource(
    client: ScimClient, user: User, *, scan: bool = False
) -> dict[str, Any] | None:
    """Look the user up in the target by userName, then externalId, then email.

    Values compare case-insensitively and each result is checked, because
    some targets ignore the filter and return every user. `scan` reads every
    user when the filters find none.
    """
    criteria = (
        Criterion("userName", user.email, lambda r: account_fields(r).user_name),
        Criterion("externalId", str(user.id), lambda r: account_fields(r).external_id),
        Criterion("emails.value", user.email, lambda r: account_fields(r).email),
    )
    return await find_first(
        client,
        "Users",
        criteria,
        page_size=get_settings().scim_page_size,
        scan=scan,
    )
