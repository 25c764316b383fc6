"""Access to applications: granted directly, or through a folder.

Changes here emit provisioning events in the same transaction; the automation
modules are imported where used, because they build on this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.models import AccessGrant, Folder, FolderApplication, FolderUser, User
from domain.rows import delete_rows, insert_new_rows
from domain.users import get_user


def has_access_clause(application_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on `User` true when the user has access to the application."""
    direct = select(AccessGrant.user_id).where(
        AccessGrant.application_id == application_id
    )
    through_folders = (
        select(FolderUser.user_id)
        .join(
            FolderApplication,
            col(FolderApplication.folder_id) == col(FolderUser.folder_id),
        )
        .where(FolderApplication.application_id == application_id)
    )
    return col(User.id).in_(direct) | col(User.id).in_(through_folders)


async def has_access(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> bool:
    statement = select(User.id).where(
        User.id == user_id, has_access_clause(application_id)
    )
    return (await session.exec(statement)).first() is not None


async def grant_access(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> User:
    """Grant the user direct access; granting it again changes nothing."""
    from domain.automation.tracking import tracked_grant

    user = await get_user(session, user_id)
    await get_application(session, application_id)
    if await session.get(AccessGrant, (user_id, application_id)) is None:
        grant = AccessGrant(user_id=user_id, application_id=application_id)
        async with tracked_grant(session, user, application_id) as written:
            if not await insert_new_rows(session, [grant]):
                written.clear()
    return user


@dataclass(frozen=True)
class Revocation:
    """The outcome of `revoke_access`."""

    user: User
    #: False when this call removed no grant, because the user had none or a
    #: concurrent call removed it first.
    revoked: bool
    #: Folders through which the user keeps access to the application, by name.
    remaining_folders: list[Folder]


async def revoke_access(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> Revocation:
    """Remove the user's direct grant, and list the folders that still give access.

    Access through a folder stays, because it belongs to the folder. A user
    without a direct grant is no error: `revoked` is False.
    """
    from domain.automation.tracking import tracked_access

    user = await get_user(session, user_id)
    await get_application(session, application_id)
    grant = await session.get(AccessGrant, (user_id, application_id))
    revoked = False
    if grant is not None:
        async with tracked_access(session, [user_id], [application_id]) as written:
            revoked = bool(await delete_rows(session, [grant]))
            if not revoked:
                written.clear()

    remaining = await folders_giving_access(session, user_id, application_id)
    return Revocation(user=user, revoked=revoked, remaining_folders=remaining)


async def folders_giving_access(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> list[Folder]:
    """Return the folders, by name, that give the user access to the application."""
    statement = (
        select(Folder)
        .join(FolderUser, col(FolderUser.folder_id) == col(Folder.id))
        .join(FolderApplication, col(FolderApplication.folder_id) == col(Folder.id))
        .where(
            FolderUser.user_id == user_id,
            FolderApplication.application_id == application_id,
        )
        .order_by(col(Folder.name_key), col(Folder.id))
    )
    return list((await session.exec(statement)).all())
