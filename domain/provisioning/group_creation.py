"""createGroup: provision a SmartLink folder's group in the target."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.settings import dry_run_enabled
from domain.config import get_settings
from domain.errors import AlreadyExists, DomainError, InvalidInput
from domain.folders import get_folder
from domain.mapping.bodies import create_group_body
from domain.mapping.entries import Mapping, MappingKind
from domain.mapping.store import get_mapping
from domain.models import Folder, FolderApplication, ScimGroup
from domain.provisioning.capabilities import members_per_request, supports_patch
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.group_actions import LINK_GROUP
from domain.provisioning.group_matching import match_groups
from domain.provisioning.membership import (
    folder_member_accounts,
    sync_group_members,
)
from domain.provisioning.mirror import upsert_group
from domain.provisioning.operations import (
    Subject,
    discard_operation,
    fail,
    record_local_change,
    record_target_failure,
    record_withheld,
    start_operation,
    succeed,
)
from domain.scim.client import ScimClient
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import (
    ScimConflict,
    ScimError,
    ScimInvalidResponse,
    ScimTLSError,
    ScimTransportError,
)
from domain.scim.lookup import Criterion, find_first
from domain.scim.payloads import get_key

logger = logging.getLogger(__name__)

CREATE_GROUP = "CREATE_GROUP"


class GroupNameTaken(AlreadyExists):
    """Raised when the target has a group of the folder's name that is not its own.

    `group` is that group, mirrored, so the caller can offer to associate it.
    """

    def __init__(self, group: ScimGroup, folder: Folder) -> None:
        found = (
            f"The target already has a group named {group.display_name!r} (SCIM id "
            f"{group.scim_id!r})"
        )
        if group.folder_id is None:
            advice = (
                f"link it to folder {folder.name!r} with associateFolder instead "
                "of creating another."
            )
        else:
            advice = (
                f"it is linked to another folder, so rename folder {folder.name!r} "
                "and run createGroup again."
            )
        super().__init__(f"{found}; {advice}", field=["folderId"])
        self.group = group


@dataclass(frozen=True)
class _Created:
    resource: dict[str, Any]
    status: int | None
    detail: str | None = None


class _ForeignGroup(Exception):
    """Raised when a 409 points to a group this product did not create."""

    def __init__(self, resource: dict[str, Any], status: int) -> None:
        super().__init__()
        self.resource = resource
        self.status = status


async def create_group(
    session: AsyncSession,
    application_id: uuid.UUID,
    folder_id: uuid.UUID,
    *,
    trigger: str,
) -> ScimGroup:
    """Give the folder a group in the target, listing its members' accounts.

    A group already linked to the folder, or one of the target's groups whose
    externalId is the folder's id, is linked and brought in line instead of
    creating another. A group of the folder's name that is not the folder's
    own raises `GroupNameTaken`, so the admin can associate it. Commits as it
    goes, so that no transaction stays open while the target responds. In dry
    run, the POST is logged, no group is linked or mirrored, and `DryRun` is
    raised.
    """
    connection = await require_connection(session, application_id)
    dry_run = await dry_run_enabled(session, application_id)
    folder = await get_folder(session, folder_id)
    await _ensure_folder_holds_application(session, folder, application_id)

    existing = (await match_groups(session, application_id, [folder])).get(folder.id)
    if existing is not None:
        return await _use_existing(session, existing, folder, trigger)

    mapping = await get_mapping(session, application_id, MappingKind.GROUP)
    member_ids = await folder_member_accounts(session, application_id, folder.id)
    if supports_patch(connection):
        member_ids = member_ids[: members_per_request(connection)]

    subject = Subject(
        application_id=application_id, trigger=trigger, folder_id=folder.id
    )
    operation = await start_operation(session, subject, CREATE_GROUP)
    # Another request may have linked a group while this one took the lock;
    # its link and its lock release were committed together.
    existing = (await match_groups(session, application_id, [folder])).get(folder.id)
    if existing is not None:
        await discard_operation(session, operation)
        return await _use_existing(session, existing, folder, trigger)

    doing = f"create the group of folder {folder.name!r}"
    try:
        async with open_client(connection, dry_run=dry_run) as client:
            created = await _post_or_adopt(client, folder, mapping, member_ids)
    except WriteWithheld as withheld:
        raise await record_withheld(session, operation, withheld, doing) from None
    except _ForeignGroup as taken:
        logger.info("Group name of folder %s is taken in the target.", folder.id)
        group = await upsert_group(session, application_id, taken.resource)
        error = GroupNameTaken(group, folder)
        fail(operation, error)
        operation.target_status = taken.status
        await session.commit()
        raise error from taken
    except ScimError as exc:
        logger.info("Creating the group of folder %s failed: %s", folder.id, exc)
        raise await record_target_failure(session, operation, exc, doing) from exc

    group = await upsert_group(session, application_id, created.resource)
    group.folder_id = folder.id
    succeed(
        operation,
        scim_id=group.scim_id,
        status=created.status,
        detail=created.detail,
    )
    await session.commit()
    logger.info("Created group %r for folder %s.", group.scim_id, folder.id)

    # The POST carried one chunk of members at most; the rest go by PATCH.
    return await _sync_members(session, group, folder, trigger)


async def _ensure_folder_holds_application(
    session: AsyncSession, folder: Folder, application_id: uuid.UUID
) -> None:
    statement = select(FolderApplication).where(
        FolderApplication.folder_id == folder.id,
        FolderApplication.application_id == application_id,
    )
    if (await session.exec(statement)).first() is None:
        raise InvalidInput(
            f"Folder {folder.name!r} does not hold application {application_id}, "
            "so it has no group there; add the application to the folder first.",
            field=["folderId"],
            references={application_id: "Application"},
        )


async def _use_existing(
    session: AsyncSession, group: ScimGroup, folder: Folder, trigger: str
) -> ScimGroup:
    """Link the folder's own group if needed, then bring its members in line."""
    if group.folder_id is None and group.external_uuid != folder.id:
        raise GroupNameTaken(group, folder)

    if group.folder_id is None:
        group.folder_id = folder.id
        subject = Subject(
            application_id=group.application_id,
            trigger=trigger,
            folder_id=folder.id,
            scim_id=group.scim_id,
        )
        record_local_change(session, subject, LINK_GROUP)
        await session.commit()

    return await _sync_members(session, group, folder, trigger)


async def _sync_members(
    session: AsyncSession, group: ScimGroup, folder: Folder, trigger: str
) -> ScimGroup:
    try:
        result = await sync_group_members(
            session, group.application_id, folder.id, trigger=trigger
        )
    except DomainError as exc:
        raise DomainError(
            f"Group {group.display_name!r} is linked to folder {folder.name!r}, but "
            f"bringing its members in line failed. {exc.message} Run createGroup "
            "again to retry the members.",
            code=exc.code,
            field=["folderId"],
        ) from exc
    return result.group


async def _post_or_adopt(
    client: ScimClient, folder: Folder, mapping: Mapping, member_ids: list[str]
) -> _Created:
    """POST the folder's group; on 409 or a lost response, adopt the folder's own.

    A group is the folder's own when its externalId is the folder's id, because
    that is what this product sends. Any other group of that name raises
    `_ForeignGroup`, chained to the 409. A POST that succeeds without
    returning the group is followed by a lookup.
    """
    payload = create_group_body(
        mapping, folder, member_ids, client.schema, client.resource_types.group
    )
    try:
        created = await client.create("Groups", payload)
    except ScimConflict as exc:
        found = await find_group_resource(client, folder, scan=True)
        if found is None:
            raise
        if str(get_key(found, "externalId")) != str(folder.id):
            raise _ForeignGroup(found, exc.status) from exc
        detail = "The target already had the folder's group (409); it was adopted."
        return _Created(found, exc.status, detail)
    except ScimTransportError as exc:
        # The POST may have reached the target before the connection failed;
        # look before reporting a failure, so a retry cannot create a second one.
        if isinstance(exc, ScimTLSError):
            raise
        found = await find_group_resource(client, folder)
        if found is None or str(get_key(found, "externalId")) != str(folder.id):
            raise
        detail = "The response was lost, but the group exists; it was adopted."
        return _Created(found, None, detail)

    if created is not None:
        return _Created(created, 201)
    found = await find_group_resource(client, folder, scan=True)
    if found is None:
        raise ScimInvalidResponse(
            f"POST {client.base_url}/Groups succeeded but returned no resource, and "
            f"no group with externalId {str(folder.id)!r} or displayName "
            f"{folder.name!r} was found.",
            method="POST",
            url=f"{client.base_url}/Groups",
        )
    return _Created(found, 201)


async def find_group_resource(
    client: ScimClient, folder: Folder, *, scan: bool = False
) -> dict[str, Any] | None:
    """Look the folder's group up in the target by externalId, then displayName.

    With `scan`, every group is read if the filters find none, as after a 409.
    """
    criteria = (
        Criterion("externalId", str(folder.id), lambda r: _text(r, "externalId")),
        Criterion("displayName", folder.name, lambda r: _text(r, "displayName")),
    )
    return await find_first(
        client,
        "Groups",
        criteria,
        page_size=get_settings().scim_page_size,
        scan=scan,
    )


def _text(resource: dict[str, Any], key: str) -> str | None:
    value = get_key(resource, key)
    return str(value) if value is not None else None
