"""Mutations that grant or revoke direct access for a list of users at once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from api.graphql.directory.types import Application, User
from domain import access_bulk
from domain.access_bulk import (
    MAX_USERS_PER_CALL,
    USER_IDS_FIELD,
    BulkAccessChange,
    UserIdEntry,
)
from domain.errors import DomainError, InvalidInput

BulkChange = Callable[
    [AsyncSession, uuid.UUID | DomainError, Sequence[UserIdEntry]],
    Awaitable[BulkAccessChange],
]

USER_IDS_DESCRIPTION = (
    f"The users, each listed once, at most {MAX_USERS_PER_CALL}. One bad id "
    "rejects the whole list."
)


@strawberry.input
class GrantAccessToUsersInput:
    application_id: strawberry.ID
    user_ids: list[strawberry.ID] = strawberry.field(description=USER_IDS_DESCRIPTION)


@strawberry.type
class GrantAccessToUsersPayload:
    application: Application | None
    users: list[User] | None = strawberry.field(
        description="The users, in input order, all now holding a direct grant."
    )
    granted_count: int = strawberry.field(description="Grants this call created.")
    already_granted_count: int = strawberry.field(
        description="Users who already had a direct grant."
    )
    errors: list[UserError]


@strawberry.input
class RevokeAccessFromUsersInput:
    application_id: strawberry.ID
    user_ids: list[strawberry.ID] = strawberry.field(description=USER_IDS_DESCRIPTION)


@strawberry.type
class RevokeAccessFromUsersPayload:
    application: Application | None
    users: list[User] | None = strawberry.field(
        description="The users, in input order, none now holding a direct grant."
    )
    revoked_count: int = strawberry.field(description="Grants this call removed.")
    not_granted_count: int = strawberry.field(
        description="Users who had no direct grant."
    )
    users_with_folder_access: list[User] = strawberry.field(
        description="The users, in input order, who keep access through a folder; "
        "revokeAccess names those folders in remainingAccessThrough."
    )
    errors: list[UserError]


@strawberry.type
class BulkAccessMutations:
    @strawberry.mutation(
        description="Grant a list of users direct access to an application, "
        "all or none."
    )
    async def grant_access_to_users(
        self, info: Info, input: GrantAccessToUsersInput
    ) -> GrantAccessToUsersPayload:
        change, errors = await _run_bulk_change(
            info,
            input.application_id,
            input.user_ids,
            access_bulk.grant_access_to_users,
        )
        if change is None:
            return GrantAccessToUsersPayload(
                application=None,
                users=None,
                granted_count=0,
                already_granted_count=0,
                errors=errors,
            )
        return GrantAccessToUsersPayload(
            application=Application.from_model(change.application),
            users=[User.from_model(user) for user in change.users],
            granted_count=change.changed_count,
            already_granted_count=change.unchanged_count,
            errors=[],
        )

    @strawberry.mutation(
        description="Revoke the direct access of a list of users, all or none; "
        "access through folders stays."
    )
    async def revoke_access_from_users(
        self, info: Info, input: RevokeAccessFromUsersInput
    ) -> RevokeAccessFromUsersPayload:
        change, errors = await _run_bulk_change(
            info,
            input.application_id,
            input.user_ids,
            access_bulk.revoke_access_from_users,
        )
        if change is None:
            return RevokeAccessFromUsersPayload(
                application=None,
                users=None,
                revoked_count=0,
                not_granted_count=0,
                users_with_folder_access=[],
                errors=errors,
            )
        return RevokeAccessFromUsersPayload(
            application=Application.from_model(change.application),
            users=[User.from_model(user) for user in change.users],
            revoked_count=change.changed_count,
            not_granted_count=change.unchanged_count,
            users_with_folder_access=[
                User.from_model(user) for user in change.users_with_folder_access
            ],
            errors=[],
        )


async def _run_bulk_change(
    info: Info,
    application_id: strawberry.ID,
    user_ids: list[strawberry.ID],
    change: BulkChange,
) -> tuple[BulkAccessChange | None, list[UserError]]:
    session = info.context.session

    async def action() -> BulkAccessChange:
        # Checked before decoding, so an oversized list gets one error, not
        # one per id.
        access_bulk.check_user_count(len(user_ids))
        application = _decode_or_error(
            application_id, "Application", "applicationId", ["applicationId"]
        )
        users = [
            _decode_or_error(
                user_id,
                "User",
                f"{USER_IDS_FIELD}[{index}]",
                [USER_IDS_FIELD, str(index)],
            )
            for index, user_id in enumerate(user_ids)
        ]
        return await change(session, application, users)

    return await run_mutation(info, action)


def _decode_or_error(
    global_id: strawberry.ID, type_name: str, name: str, field: list[str]
) -> uuid.UUID | DomainError:
    """Return the decoded id, or the error naming it, to report with the others.

    `name` is how the message names the input, such as `userIds[2]`, and
    `field` is the error's path into the input, such as `["userIds", "2"]`.
    """
    try:
        return decode_id(global_id, type_name, name)
    except InvalidInput as error:
        return InvalidInput(error.message, field=field)
