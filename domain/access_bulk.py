"""Direct access granted to, or revoked from, many users in one transaction.

Either every user in the list changes or none does. Any invalid, unknown or
repeated id, or an unknown application, rejects the whole list with one error
per bad value. Events go through the same tracking as the one-user changes in
`domain.access`, with a fixed number of queries per call outside Notification
mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.tracking import tracked_access, tracked_grants
from domain.errors import DomainError, DomainErrors, InvalidInput, NotFound
from domain.models import (
    AccessGrant,
    Application,
    FolderApplication,
    FolderUser,
    User,
)
from domain.rows import insert_new_rows
from domain.users import users_by_ids

#: User ids that one call takes at most, because a call is one transaction
#: whose locks last until it commits. NOTE: Notification mode writes each
#: user's ticket with queries of its own, so 1000 new grants took about 5 s
#: there and 0.4 s in Automatic mode (measured once through the API, 2 cores,
#: SQLite and PostgreSQL alike). 1000 global ids are about 60 kB of JSON, well
#: within the default 1 MiB request body limit.
MAX_USERS_PER_CALL = 1000

USER_IDS_FIELD = "userIds"

#: An entry of the user list: a decoded id, or the error that the caller
#: raised for the input value at that position.
UserIdEntry = uuid.UUID | DomainError


@dataclass(frozen=True)
class BulkAccessChange:
    """The outcome of a bulk grant or revoke.

    `users` follows the order of the input, `changed_count` counts the
    grants added or removed, and `unchanged_count` the users whose direct
    grant was already as requested.
    """

    application: Application
    users: list[User]
    changed_count: int
    unchanged_count: int
    #: After a revoke, the users, in input order, who keep access through a folder.
    users_with_folder_access: list[User] = field(default_factory=list)


def check_user_count(count: int) -> None:
    """Raise `InvalidInput` when a list of `count` users is over the maximum."""
    if count > MAX_USERS_PER_CALL:
        raise InvalidInput(
            f"{USER_IDS_FIELD} has {count} ids; the maximum is "
            f"{MAX_USERS_PER_CALL}. Split the list into calls of at most "
            f"{MAX_USERS_PER_CALL} ids.",
            field=[USER_IDS_FIELD],
        )


async def grant_access_to_users(
    session: AsyncSession,
    application_id: uuid.UUID | DomainError,
    user_ids: Sequence[UserIdEntry],
) -> BulkAccessChange:
    """Grant each user direct access; users who already have it stay as they are.

    Raises `DomainErrors` with one error per bad value, and grants nothing,
    when any entry is an error, unknown or repeated, or the application is
    unknown.
    """
    application, users = await _load_all(session, application_id, user_ids)
    granted = await _granted_user_ids(session, application.id, users)

    new_users = [user for user in users if user.id not in granted]
    added: set[uuid.UUID] = set()
    if new_users:
        grants = [
            AccessGrant(user_id=user.id, application_id=application.id)
            for user in new_users
        ]
        async with tracked_grants(session, new_users, application.id) as written:
            inserted = await insert_new_rows(session, grants)
            added = {grant.user_id for grant in inserted}
            written.keep(added)
    return BulkAccessChange(
        application=application,
        users=users,
        changed_count=len(added),
        unchanged_count=len(users) - len(added),
    )


async def revoke_access_from_users(
    session: AsyncSession,
    application_id: uuid.UUID | DomainError,
    user_ids: Sequence[UserIdEntry],
) -> BulkAccessChange:
    """Remove each user's direct grant; access through a folder remains.

    Rejects the list as `grant_access_to_users` does.
    """
    application, users = await _load_all(session, application_id, user_ids)
    granted = await _granted_user_ids(session, application.id, users, lock=True)

    removed: set[uuid.UUID] = set()
    if granted:
        async with tracked_access(session, granted, [application.id]) as written:
            result = await session.exec(
                delete(AccessGrant)
                .where(
                    col(AccessGrant.application_id) == application.id,
                    col(AccessGrant.user_id).in_(granted),
                )
                .returning(col(AccessGrant.user_id))
            )
            removed = set(result.scalars())
            written.keep(removed)
    through_folders = await _users_with_folder_access(session, application.id, users)
    return BulkAccessChange(
        application=application,
        users=users,
        changed_count=len(removed),
        unchanged_count=len(users) - len(removed),
        users_with_folder_access=[u for u in users if u.id in through_folders],
    )


async def _users_with_folder_access(
    session: AsyncSession, application_id: uuid.UUID, users: Sequence[User]
) -> set[uuid.UUID]:
    """Return the ids of `users` whom a folder gives access to the application."""
    if not users:
        return set()
    statement = (
        select(FolderUser.user_id)
        .join(
            FolderApplication,
            col(FolderApplication.folder_id) == col(FolderUser.folder_id),
        )
        .where(
            FolderApplication.application_id == application_id,
            col(FolderUser.user_id).in_([user.id for user in users]),
        )
    )
    return set((await session.exec(statement)).all())


async def _load_all(
    session: AsyncSession,
    application_id: uuid.UUID | DomainError,
    user_ids: Sequence[UserIdEntry],
) -> tuple[Application, list[User]]:
    """Return the application and the users in input order, or raise every error."""
    check_user_count(len(user_ids))
    errors: list[DomainError] = []

    application = None
    if isinstance(application_id, DomainError):
        errors.append(application_id)
    else:
        application = await session.get(Application, application_id)
        if application is None:
            errors.append(
                NotFound(
                    f"Application {application_id} was not found; check the id against "
                    "the `applications` query.",
                    field=["applicationId"],
                )
            )

    decoded = {entry for entry in user_ids if isinstance(entry, uuid.UUID)}
    found = await users_by_ids(session, list(decoded))
    first_index: dict[uuid.UUID, int] = {}
    for index, entry in enumerate(user_ids):
        error = _entry_error(index, entry, found, first_index)
        if error is not None:
            errors.append(error)
    if errors:
        raise DomainErrors(errors)

    assert application is not None
    return application, [found[entry] for entry in first_index]


def _entry_error(
    index: int,
    entry: UserIdEntry,
    found: dict[uuid.UUID, User],
    first_index: dict[uuid.UUID, int],
) -> DomainError | None:
    """Return the error of the entry at `index`, if any.

    Adds each id not seen before to `first_index`, with its index.
    """
    if isinstance(entry, DomainError):
        return entry

    field = [USER_IDS_FIELD, str(index)]
    if entry in first_index:
        return InvalidInput(
            f"{USER_IDS_FIELD}[{index}] repeats user {entry}, already at "
            f"{USER_IDS_FIELD}[{first_index[entry]}]; list each user once.",
            field=field,
        )
    first_index[entry] = index
    if entry not in found:
        return NotFound(
            f"User {entry} ({USER_IDS_FIELD}[{index}]) was not found; remove it "
            "from the list, or create the user first.",
            field=field,
        )
    return None


async def _granted_user_ids(
    session: AsyncSession,
    application_id: uuid.UUID,
    users: Sequence[User],
    *,
    lock: bool = False,
) -> list[uuid.UUID]:
    """Return the ids, among `users`, of those with a direct grant.

    With `lock`, PostgreSQL locks the grants in user id order until the
    transaction ends, so that two revokes of overlapping lists wait for each
    other in the same order rather than deadlock. On SQLite, which lets one
    transaction write at a time, SQLAlchemy leaves the FOR UPDATE out.
    """
    if not users:
        return []
    statement = select(AccessGrant.user_id).where(
        AccessGrant.application_id == application_id,
        col(AccessGrant.user_id).in_([user.id for user in users]),
    )
    if lock:
        statement = statement.order_by(col(AccessGrant.user_id)).with_for_update()
    return list(await session.exec(statement))
