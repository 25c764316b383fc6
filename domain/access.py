"""Access to applications: granted directly, or through a folder.

Changes here emit provisioning events in the same transaction; the automation
modules are imported where used, because they build on this module.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.models import AccessGrant, FolderApplication, FolderUser, User
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
        async with tracked_grant(session, user, application_id):
            session.add(AccessGrant(user_id=user_id, application_id=application_id))
    return user


async def revoke_access(
    session: AsyncSession, user_id: uuid.UUID, application_id: uuid.UUID
) -> User:
    """Remove the direct grant; access through a folder remains."""
    from domain.automation.tracking import tracked_access

    user = await get_user(session, user_id)
    await get_application(session, application_id)
    grant = await session.get(AccessGrant, (user_id, application_id))
    if grant is not None:
        async with tracked_access(session, [user_id], [application_id]):
            await session.delete(grant)
    return user
