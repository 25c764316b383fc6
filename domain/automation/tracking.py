"""Finding who gained or lost access through a change, to emit its events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import union
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.dispatch import emit, emit_to_many
from domain.models import (
    AccessGrant,
    FolderApplication,
    FolderUser,
    ProvisioningEvent,
    ScimConnection,
    User,
)
from domain.users import users_by_ids

Pair = tuple[uuid.UUID, uuid.UUID]


async def configured_applications(
    session: AsyncSession, application_ids: Iterable[uuid.UUID]
) -> list[uuid.UUID]:
    """Keep the applications that have a SCIM connection; others have no target."""
    ids = list(set(application_ids))
    if not ids:
        return []
    statement = select(ScimConnection.application_id).where(
        col(ScimConnection.application_id).in_(ids)
    )
    return list(await session.exec(statement))


async def access_pairs(
    session: AsyncSession,
    user_ids: Iterable[uuid.UUID],
    application_ids: Iterable[uuid.UUID],
) -> set[Pair]:
    """Return the (user, application) pairs with access, among those given."""
    users, applications = list(set(user_ids)), list(set(application_ids))
    if not users or not applications:
        return set()
    direct = select(AccessGrant.user_id, AccessGrant.application_id).where(
        col(AccessGrant.user_id).in_(users),
        col(AccessGrant.application_id).in_(applications),
    )
    through_folders = (
        select(FolderUser.user_id, FolderApplication.application_id)
        .join(
            FolderApplication,
            col(FolderApplication.folder_id) == col(FolderUser.folder_id),
        )
        .where(
            col(FolderUser.user_id).in_(users),
            col(FolderApplication.application_id).in_(applications),
        )
    )
    rows = await session.exec(union(direct, through_folders))  # type: ignore[call-overload]
    return {(row[0], row[1]) for row in rows}


class WrittenUsers:
    """The users whose rows the change inside a tracking block really wrote.

    It starts as every user the block tracks. A change that writes fewer,
    because a concurrent transaction inserted or deleted the same rows first,
    narrows it to the users in its INSERT or DELETE ... RETURNING, so that
    only the transaction that wrote a row emits the row's events.
    """

    def __init__(self, user_ids: Iterable[uuid.UUID]) -> None:
        self.ids = set(user_ids)

    def keep(self, user_ids: Iterable[uuid.UUID]) -> None:
        """Keep only `user_ids`, the users whose rows were written."""
        self.ids &= set(user_ids)

    def clear(self) -> None:
        """Record that the change wrote no row."""
        self.ids.clear()


@asynccontextmanager
async def tracked_access(
    session: AsyncSession,
    user_ids: Iterable[uuid.UUID],
    application_ids: Iterable[uuid.UUID],
) -> AsyncIterator[WrittenUsers]:
    """Emit gain and loss events for the access that the enclosed change alters.

    NOTE: two transactions that write different rows giving the same access,
    such as a direct grant and a folder membership, can both read "no access"
    before either commits, and then both emit a gain event.
    """
    written = WrittenUsers(user_ids)
    applications = await configured_applications(session, application_ids)
    before = await access_pairs(session, written.ids, applications)

    yield written

    await session.flush()
    before = {pair for pair in before if pair[0] in written.ids}
    after = await access_pairs(session, written.ids, applications)
    changed = sorted(after ^ before)
    people = await users_by_ids(session, [user_id for user_id, _ in changed])
    # One batch per application and event, so a folder change that reaches
    # thousands of users reads the settings and tickets once.
    batches: dict[tuple[uuid.UUID, ProvisioningEvent], list[User]] = {}
    for user_id, application_id in changed:
        event = (
            ProvisioningEvent.USER_GAINS_ACCESS
            if (user_id, application_id) in after
            else ProvisioningEvent.USER_LOSES_ACCESS
        )
        batches.setdefault((application_id, event), []).append(people[user_id])
    for (application_id, event), users in batches.items():
        await emit_to_many(session, application_id, event, users)


@asynccontextmanager
async def tracked_grant(
    session: AsyncSession, user: User, application_id: uuid.UUID
) -> AsyncIterator[WrittenUsers]:
    """Emit the gain event of a direct grant that the enclosed change adds.

    `tracked_access` for one new grant, with two queries fewer: after the
    grant the user has access for sure, so only the access before is read.
    """
    written = WrittenUsers([user.id])
    applications = await configured_applications(session, [application_id])
    before = await access_pairs(session, [user.id], applications)

    yield written

    if not applications or user.id not in written.ids:
        return
    if (user.id, application_id) not in before:
        await session.flush()
        await emit(session, application_id, ProvisioningEvent.USER_GAINS_ACCESS, user)


@asynccontextmanager
async def tracked_grants(
    session: AsyncSession, users: Sequence[User], application_id: uuid.UUID
) -> AsyncIterator[WrittenUsers]:
    """Emit the gain events of the direct grants that the enclosed change adds.

    `tracked_grant` for many users, with the same number of queries whatever
    their count. Users who had access through a folder get no event.
    """
    written = WrittenUsers(user.id for user in users)
    applications = await configured_applications(session, [application_id])
    before = await access_pairs(session, written.ids, applications)

    yield written

    await session.flush()
    if not applications:
        return
    gaining = [
        user
        for user in users
        if user.id in written.ids and (user.id, application_id) not in before
    ]
    if gaining:
        event = ProvisioningEvent.USER_GAINS_ACCESS
        await emit_to_many(session, application_id, event, gaining)


async def applications_of_user(
    session: AsyncSession, user_id: uuid.UUID
) -> list[uuid.UUID]:
    """Return the configured applications the user has access to."""
    direct = select(AccessGrant.application_id).where(AccessGrant.user_id == user_id)
    through_folders = (
        select(FolderApplication.application_id)
        .join(FolderUser, col(FolderUser.folder_id) == col(FolderApplication.folder_id))
        .where(FolderUser.user_id == user_id)
    )
    rows = await session.exec(union(direct, through_folders))  # type: ignore[call-overload]
    return await configured_applications(session, [row[0] for row in rows])


async def folder_application_ids(
    session: AsyncSession, folder_id: uuid.UUID
) -> list[uuid.UUID]:
    statement = select(FolderApplication.application_id).where(
        FolderApplication.folder_id == folder_id
    )
    return list(await session.exec(statement))


async def folder_member_ids(
    session: AsyncSession, folder_id: uuid.UUID
) -> list[uuid.UUID]:
    statement = select(FolderUser.user_id).where(FolderUser.folder_id == folder_id)
    return list(await session.exec(statement))
