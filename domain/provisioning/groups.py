"""The Groups tab: the target's groups as mirrored, and their folder links."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import NotFound
from domain.models import ScimGroup
from domain.pagination import Page, PageRequest, fetch_page, like_pattern


async def get_group(
    session: AsyncSession, group_id: uuid.UUID, field: str = "groupId"
) -> ScimGroup:
    group = await session.get(ScimGroup, group_id)
    if group is None:
        raise NotFound(
            f"Group {group_id} was not found; refresh the Groups tab.",
            field=[field],
            references={group_id: "ScimGroup"},
        )
    return group


async def linked_group(
    session: AsyncSession, application_id: uuid.UUID, folder_id: uuid.UUID
) -> ScimGroup | None:
    """Return the application's group linked to the folder, if any."""
    statement = select(ScimGroup).where(
        ScimGroup.application_id == application_id, ScimGroup.folder_id == folder_id
    )
    return (await session.exec(statement)).first()


async def list_groups(
    session: AsyncSession,
    application_id: uuid.UUID,
    page: PageRequest,
    *,
    search: str | None = None,
    linked: bool | None = None,
) -> Page[ScimGroup]:
    """List mirrored groups by displayName."""
    statement = (
        select(ScimGroup)
        .where(ScimGroup.application_id == application_id)
        .order_by(col(ScimGroup.display_name_key), col(ScimGroup.id))
    )
    if search:
        statement = statement.where(
            col(ScimGroup.display_name_key).like(like_pattern(search), escape="\\")
        )
    if linked is True:
        statement = statement.where(col(ScimGroup.folder_id).is_not(None))
    if linked is False:
        statement = statement.where(col(ScimGroup.folder_id).is_(None))
    return await fetch_page(session, statement, page)
