"""Mutations of the Settings tab and of SmartLink messaging."""

from __future__ import annotations

import strawberry

from api.graphql.automation.types import (
    DeprovisionAction,
    ProvisioningMode,
    ProvisioningSettings,
    Ticket,
)
from api.graphql.core.context import Info
from api.graphql.core.errors import UserError, run_mutation
from api.graphql.core.ids import decode_id
from domain import models
from domain.automation.resolution import dismiss_ticket, resolve_ticket
from domain.automation.settings import KEEP, update_provisioning_settings


@strawberry.input
class UpdateProvisioningSettingsInput:
    application_id: strawberry.ID
    user_gains_access: ProvisioningMode | None = None  # type: ignore[valid-type]
    user_loses_access: ProvisioningMode | None = None  # type: ignore[valid-type]
    user_deactivated: ProvisioningMode | None = None  # type: ignore[valid-type]
    user_updated: ProvisioningMode | None = None  # type: ignore[valid-type]
    deprovision_action: DeprovisionAction | None = None  # type: ignore[valid-type]
    mass_deprovision_threshold: int | None = None
    mass_deprovision_window_minutes: int | None = None
    dry_run: bool | None = strawberry.field(
        default=None,
        description="True records writes in the provisioning log without sending "
        "them; false sends them again.",
    )
    refresh_interval: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Minutes between scheduled refreshes, 1 to 43200; null turns "
        "them off, and leaving the field out keeps the interval.",
    )


@strawberry.type
class UpdateProvisioningSettingsPayload:
    settings: ProvisioningSettings | None
    errors: list[UserError]


@strawberry.input
class ResolveTicketInput:
    ticket_id: strawberry.ID


@strawberry.input
class DismissTicketInput:
    ticket_id: strawberry.ID


@strawberry.type
class ResolveTicketPayload:
    ticket: Ticket | None
    errors: list[UserError]


@strawberry.type
class DismissTicketPayload:
    ticket: Ticket | None
    errors: list[UserError]


async def _ticket(info: Info, ticket: models.Ticket | None) -> Ticket | None:
    if ticket is None:
        return None
    return (await Ticket.from_models(info, [ticket]))[0]


@strawberry.type
class AutomationMutations:
    @strawberry.mutation(
        description="Change the Settings tab; fields left null keep their value."
    )
    async def update_provisioning_settings(
        self, info: Info, input: UpdateProvisioningSettingsInput
    ) -> UpdateProvisioningSettingsPayload:
        async def action() -> models.ProvisioningSettings:
            return await update_provisioning_settings(
                info.context.session,
                decode_id(input.application_id, "Application", "applicationId"),
                user_gains_access=input.user_gains_access,
                user_loses_access=input.user_loses_access,
                user_deactivated=input.user_deactivated,
                user_updated=input.user_updated,
                deprovision_action=input.deprovision_action,
                mass_deprovision_threshold=input.mass_deprovision_threshold,
                mass_deprovision_window_minutes=input.mass_deprovision_window_minutes,
                dry_run=input.dry_run,
                refresh_interval=KEEP
                if input.refresh_interval is strawberry.UNSET
                else input.refresh_interval,
                token_name=info.context.token.name,
            )

        settings, errors = await run_mutation(info, action)
        return UpdateProvisioningSettingsPayload(
            settings=ProvisioningSettings.from_model(settings) if settings else None,
            errors=errors,
        )

    @strawberry.mutation(
        description="Perform the ticket's action in the target, then close it."
    )
    async def resolve_ticket(
        self, info: Info, input: ResolveTicketInput
    ) -> ResolveTicketPayload:
        async def action() -> models.Ticket:
            return await resolve_ticket(
                info.context.session,
                decode_id(input.ticket_id, "Ticket", "ticketId"),
                trigger=f"ticket:{info.context.token.name}",
            )

        ticket, errors = await run_mutation(info, action)
        return ResolveTicketPayload(ticket=await _ticket(info, ticket), errors=errors)

    @strawberry.mutation(description="Close the ticket without acting.")
    async def dismiss_ticket(
        self, info: Info, input: DismissTicketInput
    ) -> DismissTicketPayload:
        async def action() -> models.Ticket:
            return await dismiss_ticket(
                info.context.session, decode_id(input.ticket_id, "Ticket", "ticketId")
            )

        ticket, errors = await run_mutation(info, action)
        return DismissTicketPayload(ticket=await _ticket(info, ticket), errors=errors)
