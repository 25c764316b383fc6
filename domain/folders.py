"""SmartLink folders: named sets of users and of the applications they reach."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.automation.groups import emit_membership_change
from domain.automation.tracking import (
    folder_application_ids,
    folder_member_ids,
    tracked_access,
)
from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.models import Folder, FolderApplication, FolderUser, ProvisioningEvent
from domain.pagination import Page, PageRequest, fetch_page, like_pattern
from domain.rows import delete_rows, insert_new_rows
from domain.users import NAME_MAX_LENGTH, get_user

USER_GAINS_ACCESS = ProvisioningEvent.USER_GAINS_ACCESS
USER_LOSES_ACCESS = ProvisioningEvent.USER_LOSES_ACCESS


def clean_folder_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("Folder name is empty; enter a name.", field=[field])
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"Folder name is {len(name)} characters long; the maximum is "
            f"{NAME_MAX_LENGTH}.",
            field=[field],
        )
    return name


async def get_folder(
    session: AsyncSession, folder_id: uuid.UUID, field: str = "folderId"
) -> Folder:
    folder = await session.get(Folder, folder_id)
    if folder is None:
        raise NotFound(
            f"Folder {folder_id} was not found; check the id against the "
            "`folders` query.",
            field=[field],
            references={folder_id: "Folder"},
        )
    return folder


async def find_folder_by_name(session: AsyncSession, name: str) -> Folder | None:
    statement = select(Folder).where(Folder.name_key == name.strip().lower())
    return (await session.exec(statement)).first()


async def create_folder(session: AsyncSession, *, name: str) -> Folder:
    name = clean_folder_name(name)
    existing = await find_folder_by_name(session, name)
    if existing is not None:
        raise AlreadyExists(
            f"Folder {name!r} already exists ({existing.id}); choose another name.",
            field=["name"],
            references={existing.id: "Folder"},
        )

    folder = Folder(name=name, name_key=name.lower())
    session.add(folder)
    await session.flush()
    return folder


async def add_user_to_folder(
    session: AsyncSession, folder_id: uuid.UUID, user_id: uuid.UUID
) -> Folder:
    """Add the user to the folder; adding a member again changes nothing."""
    folder = await get_folder(session, folder_id)
    user = await get_user(session, user_id)
    if await session.get(FolderUser, (folder_id, user_id)) is None:
        membership = FolderUser(folder_id=folder_id, user_id=user_id)
        applications = await folder_application_ids(session, folder_id)
        async with tracked_access(session, [user_id], applications) as written:
            if not await insert_new_rows(session, [membership]):
                written.clear()
        if written.ids:
            await emit_membership_change(session, folder, user, USER_GAINS_ACCESS)
    return folder


async def remove_user_from_folder(
    session: AsyncSession, folder_id: uuid.UUID, user_id: uuid.UUID
) -> Folder:
    folder = await get_folder(session, folder_id)
    user = await get_user(session, user_id)
    membership = await session.get(FolderUser, (folder_id, user_id))
    if membership is not None:
        applications = await folder_application_ids(session, folder_id)
        async with tracked_access(session, [user_id], applications) as written:
            if not await delete_rows(session, [membership]):
                written.clear()
        if written.ids:
            await emit_membership_change(session, folder, user, USER_LOSES_ACCESS)
    return folder


async def add_application_to_folder(
    session: AsyncSession, folder_id: uuid.UUID, application_id: uuid.UUID
) -> Folder:
    folder = await get_folder(session, folder_id)
    await get_application(session, application_id)
    if await session.get(FolderApplication, (folder_id, application_id)) is None:
        link = FolderApplication(folder_id=folder_id, application_id=application_id)
        members = await folder_member_ids(session, folder_id)
        async with tracked_access(session, members, [application_id]) as written:
            if not await insert_new_rows(session, [link]):
                written.clear()
    return folder


async def remove_application_from_folder(
    session: AsyncSession, folder_id: uuid.UUID, application_id: uuid.UUID
) -> Folder:
    folder = await get_folder(session, folder_id)
    await get_application(session, application_id)
    link = await session.get(FolderApplication, (folder_id, application_id))
    if link is not None:
        members = await folder_member_ids(session, folder_id)
        async with tracked_access(session, members, [application_id]) as written:
            if not await delete_rows(session, [link]):
                written.clear()
    return folder


async def list_folders(
    session: AsyncSession,
    page: PageRequest,
    *,
    search: str | None = None,
    user_id: uuid.UUID | None = None,
    application_id: uuid.UUID | None = None,
) -> Page[Folder]:
    """List folders by name, optionally those holding a user or an application."""
    statement = select(Folder).order_by(col(Folder.name_key), col(Folder.id))
    if search:
        statement = statement.where(folder_search_clause(search))
    if user_id is not None:
        members = select(FolderUser.folder_id).where(FolderUser.user_id == user_id)
        statement = statement.where(col(Folder.id).in_(members))
    if application_id is not None:
        statement = statement.where(holds_application_clause(application_id))
    return await fetch_page(session, statement, page)


def holds_application_clause(application_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on `Folder`: the application is in the folder."""
    holders = select(FolderApplication.folder_id).where(
        FolderApplication.application_id == application_id
    )
    return col(Folder.id).in_(holders)


def folder_search_clause(search: str) -> ColumnElement[bool]:
    return col(Folder.name_key).like(like_pattern(search), escape="\\")


async def count_folder_members(
    session: AsyncSession, folder_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    statement = (
        select(FolderUser.folder_id, func.count())
        .where(col(FolderUser.folder_id).in_(folder_ids))
        .group_by(col(FolderUser.folder_id))
    )
    return {folder_id: count for folder_id, count in await session.exec(statement)}


async def folders_by_ids(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Folder]:
    if not ids:
        return {}
    rows = await session.exec(select(Folder).where(col(Folder.id).in_(ids)))
    return {folder.id: folder for folder in rows}
