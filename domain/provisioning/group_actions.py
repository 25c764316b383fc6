"""The Groups tab's row actions: create or associate a folder, delete."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.settings import dry_run_enabled
from domain.errors import (
    AlreadyExists,
    AlreadyLinked,
    DomainError,
    ErrorCode,
    InvalidInput,
    NotFound,
)
from domain.folders import (
    add_application_to_folder,
    create_folder,
    find_folder_by_name,
    get_folder,
)
from domain.models import Folder, FolderUser, ScimGroup, User
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.groups import get_group, linked_group
from domain.provisioning.mirror import accounts_by_scim_ids
from domain.provisioning.operations import (
    Subject,
    discard_operation,
    record_local_change,
    record_target_failure,
    record_withheld,
    start_operation,
    succeed,
)
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import ScimError, ScimNotFound

logger = logging.getLogger(__name__)

LINK_GROUP = "LINK_GROUP"
DELETE_GROUP = "DELETE_GROUP"


@dataclass(frozen=True)
class FolderLink:
    """A SmartLink folder and the group linked to it."""

    folder: Folder
    group: ScimGroup


@dataclass(frozen=True)
class DeletedGroup:
    """A group as it was before deletion, and whether the target still had it."""

    group: ScimGroup
    folder: Folder | None
    already_deleted: bool


async def create_folder_from_group(
    session: AsyncSession, group_id: uuid.UUID, *, trigger: str
) -> FolderLink:
    """Create a folder named after the group, link them, and fill the folder.

    The folder gets the group's application and, as members, the users linked
    to the group's member accounts as the mirror lists them. Once the group is
    linked, asking again returns its folder.
    """
    group = await get_group(session, group_id)
    if group.folder_id is not None:
        return FolderLink(await get_folder(session, group.folder_id), group)

    taken = await find_folder_by_name(session, group.display_name)
    if taken is not None:
        raise AlreadyExists(
            f"Folder {taken.name!r} already exists ({taken.id}); link it to group "
            f"{group.display_name!r} with associateFolder instead.",
            field=["groupId"],
            references={taken.id: "Folder"},
        )
    try:
        folder = await create_folder(session, name=group.display_name)
    except InvalidInput as exc:
        raise InvalidInput(
            f"Group {group.display_name!r} cannot become a folder: {exc.message}",
            field=["groupId"],
        ) from exc
    except IntegrityError as exc:
        raise _linked_concurrently(group) from exc

    await add_application_to_folder(session, folder.id, group.application_id)
    members = await _member_users(session, group)
    session.add_all(FolderUser(folder_id=folder.id, user_id=u.id) for u in members)
    await _link(session, group, folder, trigger)
    logger.info(
        "Created folder %s from group %s with %d members.",
        folder.id,
        group.id,
        len(members),
    )
    return FolderLink(folder, group)


async def _member_users(session: AsyncSession, group: ScimGroup) -> list[User]:
    accounts = await accounts_by_scim_ids(
        session, group.application_id, group.member_ids
    )
    user_ids = {a.user_id for a in accounts.values() if a.user_id is not None}
    if not user_ids:
        return []
    statement = select(User).where(col(User.id).in_(user_ids))
    return list(await session.exec(statement))


async def associate_folder(
    session: AsyncSession,
    group_id: uuid.UUID,
    folder_id: uuid.UUID,
    *,
    trigger: str,
) -> FolderLink:
    """Link a group to an existing folder, and add the application to the folder.

    Rejected when the group is linked to another folder, or the folder to
    another group of the application; linking the same pair again changes
    nothing. The folder gets the application so that it shows in the Folders
    tab and its members are the ones the group should list.
    """
    group = await get_group(session, group_id)
    folder = await get_folder(session, folder_id)
    if group.folder_id == folder.id:
        return FolderLink(folder, group)

    if group.folder_id is not None:
        current = await get_folder(session, group.folder_id)
        raise AlreadyLinked(
            f"Group {group.display_name!r} is already linked to folder "
            f"{current.name!r}; delete the group, or pick an unlinked one.",
            field=["groupId"],
        )
    other = await linked_group(session, group.application_id, folder.id)
    if other is not None:
        raise AlreadyLinked(
            f"Folder {folder.name!r} is already linked to group "
            f"{other.display_name!r} of this application, and a folder has one "
            "group per application; pick another folder, or delete that group "
            "first.",
            field=["folderId"],
        )

    await add_application_to_folder(session, folder.id, group.application_id)
    await _link(session, group, folder, trigger)
    logger.info("Linked group %s to folder %s.", group.id, folder.id)
    return FolderLink(folder, group)


async def _link(
    session: AsyncSession, group: ScimGroup, folder: Folder, trigger: str
) -> None:
    group.folder_id = folder.id
    subject = Subject(
        application_id=group.application_id,
        trigger=trigger,
        folder_id=folder.id,
        scim_id=group.scim_id,
    )
    record_local_change(session, subject, LINK_GROUP)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _linked_concurrently(group) from exc


def _linked_concurrently(group: ScimGroup) -> DomainError:
    return DomainError(
        f"Group {group.display_name!r} or its folder was linked by another request "
        "at the same time; refresh the Groups tab to see the result.",
        code=ErrorCode.IN_PROGRESS,
        field=["groupId"],
    )


async def delete_group(
    session: AsyncSession, group_id: uuid.UUID, *, trigger: str
) -> DeletedGroup:
    """DELETE the group in the target, then drop it from the mirror.

    A 404 means the target no longer has the group, so it counts as deleted.
    Dropping the mirror row also drops its link to a folder; the folder stays.
    In dry run, the DELETE is logged, the mirror keeps the group, and `DryRun`
    is raised.
    """
    group = await get_group(session, group_id)
    connection = await require_connection(session, group.application_id)
    dry_run = await dry_run_enabled(session, group.application_id)
    folder = await get_folder(session, group.folder_id) if group.folder_id else None

    subject = Subject(
        application_id=group.application_id,
        trigger=trigger,
        folder_id=group.folder_id,
        scim_id=group.scim_id,
    )
    operation = await start_operation(session, subject, DELETE_GROUP)
    if not await _still_mirrored(session, group):
        await discard_operation(session, operation)
        raise NotFound(
            f"Group {group.display_name!r} was deleted by another request; "
            "refresh the Groups tab.",
            field=["groupId"],
        )

    already_deleted = False
    doing = f"delete the group {group.display_name!r}"
    try:
        async with open_client(connection, dry_run=dry_run) as client:
            status = await client.delete("Groups", group.scim_id)
    except WriteWithheld as withheld:
        raise await record_withheld(session, operation, withheld, doing) from None
    except ScimNotFound as exc:
        status, already_deleted = exc.status, True
    except ScimError as exc:
        logger.info("Deleting group %s failed: %s", group.id, exc)
        raise await record_target_failure(session, operation, exc, doing) from exc

    detail = None
    if already_deleted:
        detail = "The target no longer had the group; it was removed from the mirror."
    succeed(operation, scim_id=group.scim_id, status=status, detail=detail)
    await session.delete(group)
    await session.commit()
    logger.info("Deleted group %s (already gone: %s).", group.id, already_deleted)
    return DeletedGroup(group=group, folder=folder, already_deleted=already_deleted)


async def _still_mirrored(session: AsyncSession, group: ScimGroup) -> bool:
    """Return whether the row still exists after waiting for the operation lock."""
    statement = select(ScimGroup.id).where(ScimGroup.id == group.id)
    return (await session.exec(statement)).first() is not None
