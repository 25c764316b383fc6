"""Mutations of the Accounts and Access tabs: memberships and accounts."""

from __future__ import annotations

import strawberry

from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from api.graphql.directory.types import User
from api.graphql.provisioning.types import ScimAccount
from domain import models
from domain.audit import record_audit
from domain.provisioning.account_actions import (
    DeletedAccount,
    Membership,
    associate_membership,
    create_membership_from_account,
    delete_account,
)
from domain.provisioning.account_creation import create_account


@strawberry.input
class CreateAccountInput:
    application_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class CreateAccountPayload:
    account: ScimAccount | None
    errors: list[UserError]


@strawberry.input
class CreateMembershipFromAccountInput:
    account_id: strawberry.ID


@strawberry.type
class CreateMembershipFromAccountPayload:
    user: User | None
    account: ScimAccount | None
    errors: list[UserError]


@strawberry.input
class AssociateMembershipInput:
    account_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.type
class AssociateMembershipPayload:
    user: User | None
    account: ScimAccount | None
    errors: list[UserError]


@strawberry.input
class DeleteAccountInput:
    account_id: strawberry.ID


@strawberry.type
class DeleteAccountPayload:
    account: ScimAccount | None = strawberry.field(
        description="The account as it was; its id no longer resolves."
    )
    user: User | None = strawberry.field(
        description="The user the account was linked to, if any."
    )
    already_deleted: bool | None = strawberry.field(
        description="True when the target responded with 404 because it no longer had "
        "the account, so only the mirror changed."
    )
    errors: list[UserError]


def _membership_fields(
    membership: Membership | None,
) -> tuple[User | None, ScimAccount | None]:
    if membership is None:
        return None, None
    user = User.from_model(membership.user)
    return user, ScimAccount.from_model(membership.account, user)


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Create the user's account in the target application, or link "
        "the account that already exists there."
    )
    async def create_account(
        self, info: Info, input: CreateAccountInput
    ) -> CreateAccountPayload:
        async def action() -> models.ScimAccount:
            application_id = decode_id(
                input.application_id, "Application", "applicationId"
            )
            user_id = decode_id(input.user_id, "User", "userId")
            account = await create_account(
                info.context.session,
                application_id,
                user_id,
                trigger=info.context.trigger,
            )
            record_audit(
                info.context.session,
                token_name=info.context.token.name,
                action="createAccount",
                application_id=account.application_id,
                objects={
                    "Application": account.application_id,
                    "User": user_id,
                    "ScimAccount": account.id,
                },
                changes={
                    "user": {"old": None, "new": user_id},
                    "scimId": {"old": None, "new": account.scim_id},
                },
            )
            return account

        account, errors = await run_mutation(info, action)
        if account is None:
            return CreateAccountPayload(account=None, errors=errors)
        converted = await ScimAccount.from_models(info, [account])
        return CreateAccountPayload(account=converted[0], errors=errors)

    @strawberry.mutation(
        description="Create a SmartLink user from the account's email and names, "
        "link the account to it, and grant the user access to the application."
    )
    async def create_membership_from_account(
        self, info: Info, input: CreateMembershipFromAccountInput
    ) -> CreateMembershipFromAccountPayload:
        async def action() -> Membership:
            return await create_membership_from_account(
                info.context.session,
                decode_id(input.account_id, "ScimAccount", "accountId"),
                trigger=info.context.trigger,
            )

        membership, errors = await run_mutation(info, action)
        user, account = _membership_fields(membership)
        return CreateMembershipFromAccountPayload(
            user=user, account=account, errors=errors
        )

    @strawberry.mutation(
        description="Link the account to an existing SmartLink user; rejected when "
        "either is already linked to another."
    )
    async def associate_membership(
        self, info: Info, input: AssociateMembershipInput
    ) -> AssociateMembershipPayload:
        async def action() -> Membership:
            return await associate_membership(
                info.context.session,
                decode_id(input.account_id, "ScimAccount", "accountId"),
                decode_id(input.user_id, "User", "userId"),
                trigger=info.context.trigger,
            )

        membership, errors = await run_mutation(info, action)
        user, account = _membership_fields(membership)
        return AssociateMembershipPayload(user=user, account=account, errors=errors)

    @strawberry.mutation(
        description="Delete the account in the target application, then remove it "
        "from the Accounts tab; an account the target no longer has counts as "
        "deleted."
    )
    async def delete_account(
        self, info: Info, input: DeleteAccountInput
    ) -> DeleteAccountPayload:
        async def action() -> DeletedAccount:
            deleted = await delete_account(
                info.context.session,
                decode_id(input.account_id, "ScimAccount", "accountId"),
                trigger=info.context.trigger,
            )
            account = deleted.account
            objects = {"Application": account.application_id, "ScimAccount": account.id}
            if account.user_id is not None:
                objects["User"] = account.user_id
            record_audit(
                info.context.session,
                token_name=info.context.token.name,
                action="deleteAccount",
                application_id=account.application_id,
                objects=objects,
                changes={
                    "scimId": {"old": account.scim_id, "new": None},
                    "alreadyDeleted": deleted.already_deleted,
                },
            )
            return deleted

        deleted, errors = await run_mutation(info, action)
        if deleted is None:
            return DeleteAccountPayload(
                account=None, user=None, already_deleted=None, errors=errors
            )
        user = User.from_model(deleted.user) if deleted.user else None
        return DeleteAccountPayload(
            account=ScimAccount.from_model(deleted.account, user),
            user=user,
            already_deleted=deleted.already_deleted,
            errors=errors,
        )
