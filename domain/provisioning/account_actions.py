"""The Accounts tab's row actions: create or associate a membership, delete."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access import grant_access
from domain.automation.groups import follow_linked_account
from domain.automation.settings import dry_run_enabled
from domain.errors import (
    AlreadyExists,
    AlreadyLinked,
    DomainError,
    ErrorCode,
    InvalidInput,
    NotFound,
)
from domain.models import ScimAccount, User
from domain.provisioning.account_creation import LINK_ACCOUNT
from domain.provisioning.accounts import get_account
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.operations import (
    Subject,
    discard_operation,
    record_local_change,
    record_target_failure,
    record_withheld,
    start_operation,
    succeed,
)
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import ScimError, ScimNotFound
from domain.scim.payloads import primary_or_work_email
from domain.users import (
    create_user,
    describe_user,
    find_user_by_email,
    get_user,
    normalize_email,
)

logger = logging.getLogger(__name__)

DELETE_ACCOUNT = "DELETE_ACCOUNT"


@dataclass(frozen=True)
class Membership:
    """A SmartLink user and the account linked to it."""

    user: User
    account: ScimAccount


@dataclass(frozen=True)
class DeletedAccount:
    """An account as it was before deletion, and whether the target still had it."""

    account: ScimAccount
    user: User | None
    already_deleted: bool


def membership_email(account: ScimAccount) -> str:
    """Return the email address for a user created from the account.

    The account's primary email comes first, then a work email, then its
    userName when that is an email address.
    """
    candidates = [primary_or_work_email(account.raw), account.user_name]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return normalize_email(candidate)
        except InvalidInput:
            continue
    raise InvalidInput(
        f"Account {account.user_name!r} has no primary or work email, and its "
        "userName is not an email address; set an email in the application, "
        "refresh, and try again, or link the account to an existing user with "
        "associateMembership.",
        field=["accountId"],
    )


async def create_membership_from_account(
    session: AsyncSession, account_id: uuid.UUID, *, trigger: str
) -> Membership:
    """Create a SmartLink user from an account, link them and grant access.

    The user gets the account's email (see `membership_email`), names and
    active flag, and direct access to the account's application. Once the
    account is linked, asking again returns the linked user.
    """
    account = await get_account(session, account_id)
    if account.user_id is not None:
        return Membership(await get_user(session, account.user_id), account)

    email = membership_email(account)
    owner = await find_user_by_email(session, email)
    if owner is not None:
        raise AlreadyExists(
            f"Email {email!r} of account {account.user_name!r} already belongs to "
            f"user {describe_user(owner)}; link the account to that user with "
            "associateMembership instead.",
            field=["accountId"],
            references={owner.id: "User"},
        )

    try:
        user = await create_user(
            session,
            email=email,
            given_name=account.given_name,
            family_name=account.family_name,
            active=account.active is not False,
        )
    except InvalidInput as exc:
        raise InvalidInput(
            f"Account {account.user_name!r} cannot become a user: {exc.message}",
            field=["accountId"],
        ) from exc
    except IntegrityError as exc:
        raise _linked_concurrently(account) from exc

    await _link(session, account, user, trigger)
    await grant_access(session, user.id, account.application_id)
    logger.info("Created user %s from account %s.", user.id, account.id)
    return Membership(user, account)


async def associate_membership(
    session: AsyncSession,
    account_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    trigger: str,
) -> Membership:
    """Link an account to an existing user.

    Rejected when the account is linked to another user, or the user to
    another account of the application; linking the same pair again changes
    nothing.
    """
    account = await get_account(session, account_id)
    user = await get_user(session, user_id)
    if account.user_id == user.id:
        return Membership(user, account)

    if account.user_id is not None:
        owner = await get_user(session, account.user_id)
        raise AlreadyLinked(
            f"Account {account.user_name!r} is already linked to user "
            f"{owner.email!r}; delete the account, or pick an unlinked one.",
            field=["accountId"],
        )
    statement = select(ScimAccount).where(
        ScimAccount.application_id == account.application_id,
        ScimAccount.user_id == user.id,
    )
    other = (await session.exec(statement)).first()
    if other is not None:
        raise AlreadyLinked(
            f"User {user.email!r} is already linked to account {other.user_name!r} "
            "of this application, and a user has one account per application; "
            "pick another user, or delete that account first.",
            field=["userId"],
        )

    await _link(session, account, user, trigger)
    await follow_linked_account(session, account.application_id, user)
    logger.info("Linked account %s to user %s.", account.id, user.id)
    return Membership(user, account)


async def _link(
    session: AsyncSession, account: ScimAccount, user: User, trigger: str
) -> None:
    account.user_id = user.id
    subject = Subject(
        application_id=account.application_id,
        trigger=trigger,
        user_id=user.id,
        scim_id=account.scim_id,
    )
    record_local_change(session, subject, LINK_ACCOUNT)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _linked_concurrently(account) from exc


def _linked_concurrently(account: ScimAccount) -> DomainError:
    return DomainError(
        f"Account {account.user_name!r} or its user was linked by another request "
        "at the same time; refresh the Accounts tab to see the result.",
        code=ErrorCode.IN_PROGRESS,
        field=["accountId"],
    )


async def delete_account(
    session: AsyncSession, account_id: uuid.UUID, *, trigger: str
) -> DeletedAccount:
    """DELETE the account in the target, then drop it from the mirror.

    A 404 means the target no longer has the account, so it counts as
    deleted. Dropping the mirror row also drops its link to a user. Commits as
    it goes, so that no transaction stays open while the target responds. In
    dry run, the DELETE is logged, the mirror keeps the account, and `DryRun`
    is raised.
    """
    account = await get_account(session, account_id)
    connection = await require_connection(session, account.application_id)
    dry_run = await dry_run_enabled(session, account.application_id)
    user = await get_user(session, account.user_id) if account.user_id else None

    subject = Subject(
        application_id=account.application_id,
        trigger=trigger,
        user_id=account.user_id,
        scim_id=account.scim_id,
    )
    operation = await start_operation(session, subject, DELETE_ACCOUNT)
    if not await _still_mirrored(session, account):
        await discard_operation(session, operation)
        raise NotFound(
            f"Account {account.user_name!r} was deleted by another request; "
            "refresh the Accounts tab.",
            field=["accountId"],
        )

    already_deleted = False
    doing = f"delete the account {account.user_name!r}"
    try:
        async with open_client(connection, dry_run=dry_run) as client:
            status = await client.delete("Users", account.scim_id)
    except WriteWithheld as withheld:
        raise await record_withheld(session, operation, withheld, doing) from None
    except ScimNotFound as exc:
        status, already_deleted = exc.status, True
    except ScimError as exc:
        logger.info("Deleting account %s failed: %s", account.id, exc)
        raise await record_target_failure(session, operation, exc, doing) from exc

    detail = None
    if already_deleted:
        detail = "The target no longer had the account; it was removed from the mirror."
    succeed(operation, scim_id=account.scim_id, status=status, detail=detail)
    await session.delete(account)
    await session.commit()
    logger.info("Deleted account %s (already gone: %s).", account.id, already_deleted)
    return DeletedAccount(account=account, user=user, already_deleted=already_deleted)


async def _still_mirrored(session: AsyncSession, account: ScimAccount) -> bool:
    """Return whether the row still exists after waiting for the operation lock."""
    statement = select(ScimAccount.id).where(ScimAccount.id == account.id)
    return (await session.exec(statement)).first() is not None
