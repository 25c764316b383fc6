"""The Folders tab: folders holding an application, and their groups."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import not_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.folders import folder_search_clause, holds_application_clause
from domain.models import Folder, ScimGroup
from domain.pagination import Page, PageRequest, fetch_page
from domain.provisioning.group_matching import (
    group_matches_folder_clause,
    match_groups,
)


@dataclass(frozen=True)
class FolderEntry:
    folder: Folder
    group: ScimGroup | None

    @property
    def present_in_app(self) -> bool:
        return self.group is not None


async def list_folder_entries(
    session: AsyncSession,
    application_id: uuid.UUID,
    page: PageRequest,
    *,
    search: str | None = None,
    present: bool | None = None,
) -> Page[FolderEntry]:
    """List the folders holding the application by name, each with its group."""
    statement = (
        select(Folder)
        .where(holds_application_clause(application_id))
        .order_by(col(Folder.name_key), col(Folder.id))
    )
    if search:
        statement = statement.where(folder_search_clause(search))
    if present is True:
        statement = statement.where(group_matches_folder_clause(application_id))
    if present is False:
        statement = statement.where(not_(group_matches_folder_clause(application_id)))

    folders = await fetch_page(session, statement, page)
    groups = await match_groups(session, application_id, folders.items)
    entries = [
        FolderEntry(folder=folder, group=groups.get(folder.id))
        for folder in folders.items
    ]
    return Page(items=entries, total=folders.total, offset=folders.offset)
