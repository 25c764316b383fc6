"""Root query field that previews provisioning without sending anything."""

from __future__ import annotations

import strawberry

from api.graphql.core.context import Info
from api.graphql.core.ids import decode_id
from api.graphql.mapping.types import AccountPreview
from api.graphql.provisioning.types import ScimAccount
from domain.mapping.preview import preview_account


@strawberry.type
class MappingQueries:
    @strawberry.field(
        description="The SCIM request that provisioning the user would send to "
        "the application now: the POST of a create, or the PATCH or PUT of an "
        "update, with the user mapping's problems. Sends nothing."
    )
    async def preview_account(
        self, info: Info, application_id: strawberry.ID, user_id: strawberry.ID
    ) -> AccountPreview:
        session = info.context.session
        # A DomainError becomes a GraphQL error with its code and the global
        # ids the client sent (see api.graphql.core.masking).
        preview = await preview_account(
            session,
            decode_id(application_id, "Application", "applicationId"),
            decode_id(user_id, "User", "userId"),
        )
        account = None
        if preview.account is not None:
            [account] = await ScimAccount.from_models(info, [preview.account])
        return AccountPreview.from_domain(preview, account)
