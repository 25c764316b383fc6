"""Mutations of the Groups and Folders tabs: groups and their folders."""

from __future__ import annotations

import uuid

import strawberry

from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from api.graphql.directory.types import Folder
from api.graphql.provisioning.types import ScimGroup
from domain import models
from domain.audit import record_audit
from domain.provisioning.group_actions import (
    DeletedGroup,
    FolderLink,
    associate_folder,
    create_folder_from_group,
    delete_group,
)
from domain.provisioning.group_creation import GroupNameTaken, create_group


@strawberry.input
class CreateFolderFromGroupInput:
    group_id: strawberry.ID


@strawberry.type
class CreateFolderFromGroupPayload:
    folder: Folder | None
    group: ScimGroup | None
    errors: list[UserError]


@strawberry.input
class AssociateFolderInput:
    group_id: strawberry.ID
    folder_id: strawberry.ID


@strawberry.type
class AssociateFolderPayload:
    folder: Folder | None
    group: ScimGroup | None
    errors: list[UserError]


@strawberry.input
class DeleteGroupInput:
    group_id: strawberry.ID


@strawberry.type
class DeleteGroupPayload:
    group: ScimGroup | None = strawberry.field(
        description="The group as it was; its id no longer resolves."
    )
    folder: Folder | None = strawberry.field(
        description="The folder the group was linked to, if any; it stays."
    )
    already_deleted: bool | None = strawberry.field(
        description="True when the target responded with 404 because it no longer had "
        "the group, so only the mirror changed."
    )
    errors: list[UserError]


@strawberry.input
class CreateGroupInput:
    application_id: strawberry.ID
    folder_id: strawberry.ID


@strawberry.type
class CreateGroupPayload:
    group: ScimGroup | None = strawberry.field(
        description="The folder's group; with an ALREADY_EXISTS error, the target's "
        "group of the same name, to link with associateFolder."
    )
    folder: Folder | None
    errors: list[UserError]


def _link_fields(link: FolderLink | None) -> tuple[Folder | None, ScimGroup | None]:
    if link is None:
        return None, None
    folder = Folder.from_model(link.folder)
    return folder, ScimGroup.from_model(link.group, folder)


@strawberry.type
class GroupMutations:
    @strawberry.mutation(
        description="Create a SmartLink folder named after the group, link them, "
        "add the application to the folder, and add as members the users linked "
        "to the group's member accounts."
    )
    async def create_folder_from_group(
        self, info: Info, input: CreateFolderFromGroupInput
    ) -> CreateFolderFromGroupPayload:
        async def action() -> FolderLink:
            return await create_folder_from_group(
                info.context.session,
                decode_id(input.group_id, "ScimGroup", "groupId"),
                trigger=info.context.trigger,
            )

        link, errors = await run_mutation(info, action)
        folder, group = _link_fields(link)
        return CreateFolderFromGroupPayload(folder=folder, group=group, errors=errors)

    @strawberry.mutation(
        description="Link the group to an existing folder and add the application "
        "to the folder; rejected when either is already linked to another."
    )
    async def associate_folder(
        self, info: Info, input: AssociateFolderInput
    ) -> AssociateFolderPayload:
        async def action() -> FolderLink:
            return await associate_folder(
                info.context.session,
                decode_id(input.group_id, "ScimGroup", "groupId"),
                decode_id(input.folder_id, "Folder", "folderId"),
                trigger=info.context.trigger,
            )

        link, errors = await run_mutation(info, action)
        folder, group = _link_fields(link)
        return AssociateFolderPayload(folder=folder, group=group, errors=errors)

    @strawberry.mutation(
        description="Delete the group in the target application, then remove it "
        "from the Groups tab; a group the target no longer has counts as deleted."
    )
    async def delete_group(
        self, info: Info, input: DeleteGroupInput
    ) -> DeleteGroupPayload:
        async def action() -> DeletedGroup:
            deleted = await delete_group(
                info.context.session,
                decode_id(input.group_id, "ScimGroup", "groupId"),
                trigger=info.context.trigger,
            )
            group = deleted.group
            objects = {"Application": group.application_id, "ScimGroup": group.id}
            if group.folder_id is not None:
                objects["Folder"] = group.folder_id
            record_audit(
                info.context.session,
                token_name=info.context.token.name,
                action="deleteGroup",
                application_id=group.application_id,
                objects=objects,
                changes={
                    "scimId": {"old": group.scim_id, "new": None},
                    "alreadyDeleted": deleted.already_deleted,
                },
            )
            return deleted

        deleted, errors = await run_mutation(info, action)
        if deleted is None:
            return DeleteGroupPayload(
                group=None, folder=None, already_deleted=None, errors=errors
            )
        folder = Folder.from_model(deleted.folder) if deleted.folder else None
        return DeleteGroupPayload(
            group=ScimGroup.from_model(deleted.group, folder),
            folder=folder,
            already_deleted=deleted.already_deleted,
            errors=errors,
        )

    @strawberry.mutation(
        description="Create a group named after the folder in the target "
        "application, with the accounts of the folder's members, and link it; a "
        "group already linked to the folder has its members brought in line."
    )
    async def create_group(
        self, info: Info, input: CreateGroupInput
    ) -> CreateGroupPayload:
        offered_ids: list[uuid.UUID] = []

        async def action() -> models.ScimGroup:
            try:
                return await create_group(
                    info.context.session,
                    decode_id(input.application_id, "Application", "applicationId"),
                    decode_id(input.folder_id, "Folder", "folderId"),
                    trigger=info.context.trigger,
                )
            except GroupNameTaken as exc:
                offered_ids.append(exc.group.id)
                raise

        group, errors = await run_mutation(info, action)
        if group is None and offered_ids:
            # The rollback expired the offered group, so it is read again.
            group = await info.context.session.get(models.ScimGroup, offered_ids[0])
        if group is None:
            return CreateGroupPayload(group=None, folder=None, errors=errors)
        converted = await ScimGroup.from_models(info, [group])
        folder = converted[0].folder
        return CreateGroupPayload(group=converted[0], folder=folder, errors=errors)
