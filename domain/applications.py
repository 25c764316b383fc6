"""Applications: the third-party apps that SmartLink users are given access to."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import AlreadyExists, InvalidInput, NotFound, shown
from domain.models import AccessGrant, Application, FolderApplication, FolderUser
from domain.pagination import Page, PageRequest, fetch_page, like_pattern
from domain.users import NAME_MAX_LENGTH


async def get_application(
    session: AsyncSession, application_id: uuid.UUID, field: str = "applicationId"
) -> Application:
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound(
            f"Application {application_id} was not found; check the id against the "
            "`applications` query.",
            field=[field],
            references={application_id: "Application"},
        )
    return application


async def create_application(session: AsyncSession, *, name: str) -> Application:
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"Application name {shown(name)} must be 1 to {NAME_MAX_LENGTH} "
            "characters.",
            field=["name"],
        )
    statement = select(Application).where(Application.name_key == name.lower())
    existing = (await session.exec(statement)).first()
    if existing is not None:
        raise AlreadyExists(
            f"Application {name!r} already exists ({existing.id}); choose another "
            "name.",
            field=["name"],
            references={existing.id: "Application"},
        )

    application = Application(name=name, name_key=name.lower())
    session.add(application)
    await session.flush()
    return application


async def list_applications(
    session: AsyncSession,
    page: PageRequest,
    *,
    search: str | None = None,
    user_id: uuid.UUID | None = None,
    folder_id: uuid.UUID | None = None,
) -> Page[Application]:
    """List applications by name; with `user_id`, those the user has access to."""
    statement = select(Application).order_by(
        col(Application.name_key), col(Application.id)
    )
    if search:
        statement = statement.where(
            col(Application.name_key).like(like_pattern(search), escape="\\")
        )
    if user_id is not None:
        direct = select(AccessGrant.application_id).where(
            AccessGrant.user_id == user_id
        )
        through_folders = (
            select(FolderApplication.application_id)
            .join(
                FolderUser,
                col(FolderUser.folder_id) == col(FolderApplication.folder_id),
            )
            .where(FolderUser.user_id == user_id)
        )
        statement = statement.where(
            col(Application.id).in_(direct) | col(Application.id).in_(through_folders)
        )
    if folder_id is not None:
        held = select(FolderApplication.application_id).where(
            FolderApplication.folder_id == folder_id
        )
        statement = statement.where(col(Application.id).in_(held))
    return await fetch_page(session, statement, page)


async def applications_by_ids(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, Application]:
    if not ids:
        return {}
    rows = await session.exec(select(Application).where(col(Application.id).in_(ids)))
    return {application.id: application for application in rows}
