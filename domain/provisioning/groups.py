"""The Groups tab: the target's groups as mirrored, and their folder links."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import ScimGroup
from domain.pagination import Page, PageRequest, fetch_page, like_pattern


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
