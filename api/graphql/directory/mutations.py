"""Mutations of SmartLink's directory: users, folders, applications and access."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from api.graphql.directory.types import Application, Folder, User
from domain import access, applications, folders, models, users
from domain.profile import ProfileInput

P = TypeVar("P")
R = TypeVar("R")

KEEP_OR_CLEAR = "Unchanged if null; an empty string clears it."

Change = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[object]]


@strawberry.input
class CreateApplicationInput:
    name: str


@strawberry.type
class CreateApplicationPayload:
    application: Application | None
    errors: list[UserError]


@strawberry.input
class CreateUserInput:
    email: str
    given_name: str | None = None
    family_name: str | None = None
    title: str | None = None
    department: str | None = None
    phone_number: str | None = strawberry.field(
        default=None, description="Digits with optional +, such as +44 20 7946 0958."
    )
    preferred_language: str | None = strawberry.field(
        default=None, description="A BCP 47 language tag, such as en or en-GB."
    )
    employee_number: str | None = None


@strawberry.input
class UpdateUserInput:
    user_id: strawberry.ID
    email: str | None = strawberry.field(default=None, description="Unchanged if null.")
    given_name: str | None = strawberry.field(
        default=None, description="Unchanged if null; an empty string clears it."
    )
    family_name: str | None = strawberry.field(
        default=None, description="Unchanged if null; an empty string clears it."
    )
    title: str | None = strawberry.field(default=None, description=KEEP_OR_CLEAR)
    department: str | None = strawberry.field(default=None, description=KEEP_OR_CLEAR)
    phone_number: str | None = strawberry.field(default=None, description=KEEP_OR_CLEAR)
    preferred_language: str | None = strawberry.field(
        default=None, description=KEEP_OR_CLEAR
    )
    employee_number: str | None = strawberry.field(
        default=None, description=KEEP_OR_CLEAR
    )


@strawberry.input
class DeactivateUserInput:
    user_id: strawberry.ID


@strawberry.input
class ReactivateUserInput:
    user_id: strawberry.ID


@strawberry.type
class CreateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class UpdateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class DeactivateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class ReactivateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.input
class CreateFolderInput:
    name: str


@strawberry.type
class CreateFolderPayload:
    folder: Folder | None
    errors: list[UserError]


@strawberry.input
class AddUserToFolderInput:
    folder_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class RemoveUserFromFolderInput:
    folder_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class AddUserToFolderPayload:
    folder: Folder | None
    user: User | None
    errors: list[UserError]


@strawberry.type
class RemoveUserFromFolderPayload:
    folder: Folder | None
    user: User | None
    errors: list[UserError]


@strawberry.input
class AddApplicationToFolderInput:
    folder_id: strawberry.ID
    application_id: strawberry.ID


@strawberry.input
class RemoveApplicationFromFolderInput:
    folder_id: strawberry.ID
    application_id: strawberry.ID


@strawberry.type
class AddApplicationToFolderPayload:
    folder: Folder | None
    application: Application | None
    errors: list[UserError]


@strawberry.type
class RemoveApplicationFromFolderPayload:
    folder: Folder | None
    application: Application | None
    errors: list[UserError]


@strawberry.input
class GrantAccessInput:
    user_id: strawberry.ID
    application_id: strawberry.ID


@strawberry.input
class RevokeAccessInput:
    user_id: strawberry.ID
    application_id: strawberry.ID


@strawberry.type
class GrantAccessPayload:
    user: User | None
    application: Application | None
    errors: list[UserError]


@strawberry.type
class RevokeAccessPayload:
    user: User | None
    application: Application | None
    revoked: bool = strawberry.field(
        description=(
            "True when this call removed the user's direct grant. False when the "
            "user had no direct grant or a concurrent call removed it first, so "
            "nothing changed, and when the mutation failed."
        )
    )
    remaining_access_through: list[Folder] = strawberry.field(
        description=(
            "Folders, by name, through which the user keeps access to the "
            "application; empty when no access remains or the mutation failed. "
            "Remove the user or the application from these folders to end it."
        )
    )
    errors: list[UserError]


def _profile(input: CreateUserInput | UpdateUserInput) -> ProfileInput:
    return ProfileInput(
        title=input.title,
        department=input.department,
        phone_number=input.phone_number,
        preferred_language=input.preferred_language,
        employee_number=input.employee_number,
    )


def _user(user: models.User | None) -> User | None:
    return User.from_model(user) if user else None


def _folder(folder: models.Folder | None) -> Folder | None:
    return Folder.from_model(folder) if folder else None


def _application(application: models.Application | None) -> Application | None:
    return Application.from_model(application) if application else None


async def _change_user(
    info: Info, action: Callable[[], Awaitable[models.User]]
) -> tuple[User | None, list[UserError]]:
    user, errors = await run_mutation(info, action)
    return _user(user), errors


@strawberry.type
class DirectoryMutations:
    @strawberry.mutation(description="Create an application.")
    async def create_application(
        self, info: Info, input: CreateApplicationInput
    ) -> CreateApplicationPayload:
        session = info.context.session
        application, errors = await run_mutation(
            info, lambda: applications.create_application(session, name=input.name)
        )
        return CreateApplicationPayload(
            application=_application(application), errors=errors
        )

    @strawberry.mutation(description="Create a SmartLink user (membership).")
    async def create_user(
        self, info: Info, input: CreateUserInput
    ) -> CreateUserPayload:
        user, errors = await _change_user(
            info,
            lambda: users.create_user(
                info.context.session,
                email=input.email,
                given_name=input.given_name,
                family_name=input.family_name,
                profile=_profile(input),
            ),
        )
        return CreateUserPayload(user=user, errors=errors)

    @strawberry.mutation(description="Change a user's email, names or profile.")
    async def update_user(
        self, info: Info, input: UpdateUserInput
    ) -> UpdateUserPayload:
        async def action() -> models.User:
            return await users.update_user(
                info.context.session,
                decode_id(input.user_id, "User", "userId"),
                email=input.email,
                given_name=input.given_name,
                family_name=input.family_name,
                profile=_profile(input),
            )

        user, errors = await _change_user(info, action)
        return UpdateUserPayload(user=user, errors=errors)

    @strawberry.mutation(description="Deactivate a user; access grants stay.")
    async def deactivate_user(
        self, info: Info, input: DeactivateUserInput
    ) -> DeactivateUserPayload:
        user, errors = await _change_user(info, _activation(info, input.user_id, False))
        return DeactivateUserPayload(user=user, errors=errors)

    @strawberry.mutation(description="Reactivate a deactivated user.")
    async def reactivate_user(
        self, info: Info, input: ReactivateUserInput
    ) -> ReactivateUserPayload:
        user, errors = await _change_user(info, _activation(info, input.user_id, True))
        return ReactivateUserPayload(user=user, errors=errors)

    @strawberry.mutation(description="Create a folder.")
    async def create_folder(
        self, info: Info, input: CreateFolderInput
    ) -> CreateFolderPayload:
        session = info.context.session
        folder, errors = await run_mutation(
            info, lambda: folders.create_folder(session, name=input.name)
        )
        return CreateFolderPayload(folder=_folder(folder), errors=errors)

    @strawberry.mutation(description="Add a user to a folder.")
    async def add_user_to_folder(
        self, info: Info, input: AddUserToFolderInput
    ) -> AddUserToFolderPayload:
        (folder, user), errors = await _folder_user(
            info, input.folder_id, input.user_id, folders.add_user_to_folder
        )
        return AddUserToFolderPayload(folder=folder, user=user, errors=errors)

    @strawberry.mutation(description="Remove a user from a folder.")
    async def remove_user_from_folder(
        self, info: Info, input: RemoveUserFromFolderInput
    ) -> RemoveUserFromFolderPayload:
        (folder, user), errors = await _folder_user(
            info, input.folder_id, input.user_id, folders.remove_user_from_folder
        )
        return RemoveUserFromFolderPayload(folder=folder, user=user, errors=errors)

    @strawberry.mutation(
        description="Give a folder's members access to an application."
    )
    async def add_application_to_folder(
        self, info: Info, input: AddApplicationToFolderInput
    ) -> AddApplicationToFolderPayload:
        (folder, application), errors = await _folder_application(
            info,
            input.folder_id,
            input.application_id,
            folders.add_application_to_folder,
        )
        return AddApplicationToFolderPayload(
            folder=folder, application=application, errors=errors
        )

    @strawberry.mutation(description="Take an application out of a folder.")
    async def remove_application_from_folder(
        self, info: Info, input: RemoveApplicationFromFolderInput
    ) -> RemoveApplicationFromFolderPayload:
        (folder, application), errors = await _folder_application(
            info,
            input.folder_id,
            input.application_id,
            folders.remove_application_from_folder,
        )
        return RemoveApplicationFromFolderPayload(
            folder=folder, application=application, errors=errors
        )

    @strawberry.mutation(description="Grant a user direct access to an application.")
    async def grant_access(
        self, info: Info, input: GrantAccessInput
    ) -> GrantAccessPayload:
        (user, application, _), errors = await _access(
            info, input.user_id, input.application_id, access.grant_access
        )
        return GrantAccessPayload(user=user, application=application, errors=errors)

    @strawberry.mutation(
        description=(
            "Revoke a user's direct access. Access through folders stays, and "
            "remainingAccessThrough lists those folders."
        )
    )
    async def revoke_access(
        self, info: Info, input: RevokeAccessInput
    ) -> RevokeAccessPayload:
        (user, application, revocation), errors = await _access(
            info, input.user_id, input.application_id, access.revoke_access
        )
        if revocation is None:
            return RevokeAccessPayload(
                user=user,
                application=application,
                revoked=False,
                remaining_access_through=[],
                errors=errors,
            )

        return RevokeAccessPayload(
            user=user,
            application=application,
            revoked=revocation.revoked,
            remaining_access_through=[
                Folder.from_model(folder) for folder in revocation.remaining_folders
            ],
            errors=errors,
        )


def _activation(
    info: Info, user_id: strawberry.ID, active: bool
) -> Callable[[], Awaitable[models.User]]:
    async def action() -> models.User:
        decoded = decode_id(user_id, "User", "userId")
        return await users.set_user_active(info.context.session, decoded, active)

    return action


async def _folder_user(
    info: Info, folder_id: strawberry.ID, user_id: strawberry.ID, change: Change
) -> tuple[tuple[Folder | None, User | None], list[UserError]]:
    session = info.context.session

    async def action() -> tuple[models.Folder, models.User]:
        folder_uuid = decode_id(folder_id, "Folder", "folderId")
        user_uuid = decode_id(user_id, "User", "userId")
        await change(session, folder_uuid, user_uuid)
        return (
            await folders.get_folder(session, folder_uuid),
            await users.get_user(session, user_uuid),
        )

    result, errors = await run_mutation(info, action)
    if result is None:
        return (None, None), errors
    return (_folder(result[0]), _user(result[1])), errors


async def _folder_application(
    info: Info,
    folder_id: strawberry.ID,
    application_id: strawberry.ID,
    change: Change,
) -> tuple[tuple[Folder | None, Application | None], list[UserError]]:
    session = info.context.session

    async def action() -> tuple[models.Folder, models.Application]:
        folder_uuid = decode_id(folder_id, "Folder", "folderId")
        application_uuid = decode_id(application_id, "Application", "applicationId")
        await change(session, folder_uuid, application_uuid)
        return (
            await folders.get_folder(session, folder_uuid),
            await applications.get_application(session, application_uuid),
        )

    result, errors = await run_mutation(info, action)
    if result is None:
        return (None, None), errors
    return (_folder(result[0]), _application(result[1])), errors


async def _access(
    info: Info,
    user_id: strawberry.ID,
    application_id: strawberry.ID,
    change: Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[R]],
) -> tuple[tuple[User | None, Application | None, R | None], list[UserError]]:
    """Run `change` on a user and an application, and return both with its result."""
    session = info.context.session

    async def action() -> tuple[models.User, models.Application, R]:
        user_uuid = decode_id(user_id, "User", "userId")
        application_uuid = decode_id(application_id, "Application", "applicationId")
        # Holding both rows keeps them in the session's identity map, which
        # only references them weakly, so `change` reads them without a query.
        user = await users.get_user(session, user_uuid)
        application = await applications.get_application(session, application_uuid)
        outcome = await change(session, user_uuid, application_uuid)
        return user, application, outcome

    result, errors = await run_mutation(info, action)
    if result is None:
        return (None, None, None), errors
    return (_user(result[0]), _application(result[1]), result[2]), errors
