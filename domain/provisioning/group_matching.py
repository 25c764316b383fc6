"""Matching of mirrored groups to the SmartLink folders they belong to.

A group belongs to a folder by its stored link first. A group linked to no
folder also matches a folder whose id is its `externalId` (the value this
product sends when it creates a group), or whose name equals its displayName
case-insensitively, in that order of preference.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import Folder, ScimGroup


def group_matches_folder_clause(application_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on `Folder`: some group of the application matches it."""
    return exists().where(
        col(ScimGroup.application_id) == application_id,
        or_(
            col(ScimGroup.folder_id) == col(Folder.id),
            and_(
                col(ScimGroup.folder_id).is_(None),
                or_(
                    col(ScimGroup.external_uuid) == col(Folder.id),
                    col(ScimGroup.display_name_key) == col(Folder.name_key),
                ),
            ),
        ),
    )


async def match_groups(
    session: AsyncSession, application_id: uuid.UUID, folders: Sequence[Folder]
) -> dict[uuid.UUID, ScimGroup]:
    """Return each folder's matching group, with one query for all the folders."""
    if not folders:
        return {}
    ids = [folder.id for folder in folders]
    names = [folder.name_key for folder in folders]
    statement = select(ScimGroup).where(
        ScimGroup.application_id == application_id,
        or_(
            col(ScimGroup.folder_id).in_(ids),
            and_(
                col(ScimGroup.folder_id).is_(None),
                or_(
                    col(ScimGroup.external_uuid).in_(ids),
                    col(ScimGroup.display_name_key).in_(names),
                ),
            ),
        ),
    )
    candidates = list(await session.exec(statement))
    return {
        folder.id: group
        for folder in folders
        if (group := best_group_match(folder, candidates)) is not None
    }


def best_group_match(folder: Folder, groups: Sequence[ScimGroup]) -> ScimGroup | None:
    """Pick the group that belongs to `folder` among candidates, by preference."""
    unlinked = [g for g in groups if g.folder_id is None]
    rules = (
        [g for g in groups if g.folder_id == folder.id],
        [g for g in unlinked if g.external_uuid == folder.id],
        [g for g in unlinked if g.display_name_key == folder.name_key],
    )
    for matches in rules:
        if matches:
            return matches[0]
    return None
