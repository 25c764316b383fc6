"""Mutations of the Configuration tab: connect to a target, and refresh."""

from __future__ import annotations

import uuid

import strawberry

from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from api.graphql.provisioning.types import Provisioning, RefreshRun
from domain import models
from domain.audit import record_audit
from domain.errors import DomainError
from domain.provisioning.capabilities import KEEP, update_capability_overrides
from domain.provisioning.connection import configure_provisioning, get_connection
from domain.provisioning.refresh import request_refresh
from jobs.refresh import enqueue_refresh


@strawberry.input
class ConfigureProvisioningInput:
    application_id: strawberry.ID
    base_url: str = strawberry.field(
        description="The SCIM endpoint, such as https://app.example.com/scim/v2."
    )
    token: str | None = strawberry.field(
        default=None,
        description="The bearer token. Null keeps the saved token, unless the base "
        "URL changed, which clears it.",
    )


@strawberry.type
class ConfigureProvisioningPayload:
    provisioning: Provisioning | None
    refresh_run: RefreshRun | None = strawberry.field(
        description="The import of the target's data that a successful connection "
        "queued."
    )
    errors: list[UserError]


@strawberry.input
class RefreshProvisioningInput:
    application_id: strawberry.ID


@strawberry.type
class RefreshProvisioningPayload:
    refresh_run: RefreshRun | None = strawberry.field(
        description="The queued run, or the one already under way."
    )
    errors: list[UserError]


@strawberry.input(
    description="Each field left out keeps its override; null removes it, so the "
    "target's ServiceProviderConfig or the default applies again."
)
class UpdateScimCapabilitiesInput:
    application_id: strawberry.ID
    patch: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Whether to update by PATCH (true) or by GET and PUT (false). "
        "Null also forgets the update method learned from the target.",
    )
    filter: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Whether to look resources up with filters.",
    )
    bulk: bool | None = strawberry.UNSET
    etag: bool | None = strawberry.UNSET
    max_results: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="The maximum number of resources the target returns per query, "
        "1 to 100000.",
    )
    max_operations: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="The maximum number of operations in one bulk request, 1 to "
        "100000.",
    )


@strawberry.type
class UpdateScimCapabilitiesPayload:
    provisioning: Provisioning | None
    errors: list[UserError]


async def _queue_refresh(
    info: Info, application_id: strawberry.ID, *, audited: bool
) -> tuple[models.RefreshRun | None, list[UserError]]:
    """Queue a refresh; with `audited`, a new run is written to the audit log."""

    async def action() -> tuple[models.RefreshRun, bool]:
        decoded = decode_id(application_id, "Application", "applicationId")
        run, is_new = await request_refresh(info.context.session, decoded)
        if audited and is_new:
            record_audit(
                info.context.session,
                token_name=info.context.token.name,
                action="refreshProvisioning",
                application_id=decoded,
                objects={"Application": decoded, "RefreshRun": run.id},
            )
        return run, is_new

    result, errors = await run_mutation(info, action)
    if result is None:
        return None, errors
    run, is_new = result
    if is_new:
        enqueue_refresh(run.id)
    return run, errors


async def _saved_connection(
    info: Info, application_id: strawberry.ID
) -> uuid.UUID | None:
    try:
        decoded = decode_id(application_id, "Application", "applicationId")
    except DomainError:
        return None
    connection = await get_connection(info.context.session, decoded)
    return connection.application_id if connection else None


@strawberry.type
class ConnectionMutations:
    @strawberry.mutation(
        description="Save an application's SCIM endpoint and token, read its "
        "discovery documents, and queue an import of its accounts and groups."
    )
    async def configure_provisioning(
        self, info: Info, input: ConfigureProvisioningInput
    ) -> ConfigureProvisioningPayload:
        async def action() -> models.ScimConnection:
            application_id = decode_id(
                input.application_id, "Application", "applicationId"
            )
            return await configure_provisioning(
                info.context.session,
                application_id,
                base_url=input.base_url,
                token=input.token,
                token_name=info.context.token.name,
            )

        connection, errors = await run_mutation(info, action)
        if connection is None:
            # A connection that failed is saved as FAILED, with its last error.
            saved = await _saved_connection(info, input.application_id)
            return ConfigureProvisioningPayload(
                provisioning=Provisioning(application_id=saved) if saved else None,
                refresh_run=None,
                errors=errors,
            )
        # configureProvisioning's own audit entry covers the refresh it queues.
        run, errors = await _queue_refresh(info, input.application_id, audited=False)
        return ConfigureProvisioningPayload(
            provisioning=Provisioning(application_id=connection.application_id),
            refresh_run=RefreshRun.from_model(run) if run else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Override what SmartLink assumes the application's target supports."
    )
    async def update_scim_capabilities(
        self, info: Info, input: UpdateScimCapabilitiesInput
    ) -> UpdateScimCapabilitiesPayload:
        async def action() -> models.ScimConnection:
            overrides = {
                "patch": input.patch,
                "filter": input.filter,
                "bulk": input.bulk,
                "etag": input.etag,
                "maxResults": input.max_results,
                "maxOperations": input.max_operations,
            }
            return await update_capability_overrides(
                info.context.session,
                decode_id(input.application_id, "Application", "applicationId"),
                token_name=info.context.token.name,
                **{
                    key: KEEP if value is strawberry.UNSET else value
                    for key, value in overrides.items()
                },
            )

        connection, errors = await run_mutation(info, action)
        return UpdateScimCapabilitiesPayload(
            provisioning=Provisioning(application_id=connection.application_id)
            if connection
            else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Re-read the target's accounts and groups in a background job."
    )
    async def refresh_provisioning(
        self, info: Info, input: RefreshProvisioningInput
    ) -> RefreshProvisioningPayload:
        run, errors = await _queue_refresh(info, input.application_id, audited=True)
        return RefreshProvisioningPayload(
            refresh_run=RefreshRun.from_model(run) if run else None, errors=errors
        )
