"""Mutation of the Schema tab: replace an application's attribute mapping."""

from __future__ import annotations

import strawberry

from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from api.graphql.mapping.types import MappingKindEnum, MappingSourceEnum
from api.graphql.provisioning.types import Provisioning
from domain.mapping.entries import Mapping
from domain.mapping.store import EntryInput, update_attribute_mapping


@strawberry.input(description="One SCIM attribute and where its value comes from.")
class AttributeMappingEntryInput:
    path: str = strawberry.field(
        description="A SCIM attribute path: userName, name.givenName, emails[type "
        'eq "work"].value, or an extension attribute under its full schema URN.'
    )
    source: MappingSourceEnum  # type: ignore[valid-type]
    value: str = strawberry.field(
        description="A SmartLink field name for FIELD, the text for TEMPLATE, or "
        "the value for CONSTANT (true or false for a boolean attribute)."
    )


@strawberry.input
class UpdateAttributeMappingInput:
    application_id: strawberry.ID
    kind: MappingKindEnum  # type: ignore[valid-type]
    entries: list[AttributeMappingEntryInput] = strawberry.field(
        description="Every entry of the new mapping, in order."
    )


@strawberry.type
class UpdateAttributeMappingPayload:
    provisioning: Provisioning | None
    errors: list[UserError]


@strawberry.type
class MappingMutations:
    @strawberry.mutation(
        description="Replace an application's user or group mapping, once it fits "
        "the schema the target published."
    )
    async def update_attribute_mapping(
        self, info: Info, input: UpdateAttributeMappingInput
    ) -> UpdateAttributeMappingPayload:
        async def action() -> Mapping:
            return await update_attribute_mapping(
                info.context.session,
                decode_id(input.application_id, "Application", "applicationId"),
                input.kind,
                [EntryInput(e.path, e.source, e.value) for e in input.entries],
                token_name=info.context.token.name,
            )

        mapping, errors = await run_mutation(info, action)
        provisioning = None
        if mapping is not None:
            application_id = decode_id(
                input.application_id, "Application", "applicationId"
            )
            provisioning = Provisioning(application_id=application_id)
        return UpdateAttributeMappingPayload(provisioning=provisioning, errors=errors)
