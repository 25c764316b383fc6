"""GraphQL types of the Settings tab and of SmartLink messaging tickets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Self

import strawberry
from strawberry import relay

from api.graphql.core.context import Info
from api.graphql.core.ids import with_global_ids
from api.graphql.core.nodes import load_models
from api.graphql.directory.types import Application, Folder, User
from domain import models
from domain.applications import applications_by_ids
from domain.folders import folders_by_ids
from domain.users import users_by_ids

ProvisioningMode = strawberry.enum(
    models.ProvisioningMode,
    description="MANUAL does nothing, NOTIFICATION opens a ticket, AUTOMATIC acts "
    "on the target in a background job.",
)
ProvisioningEvent = strawberry.enum(models.ProvisioningEvent)
DeprovisionAction = strawberry.enum(
    models.DeprovisionAction,
    description="What losing access does to the account in the target.",
)
TicketStatus = strawberry.enum(models.TicketStatus)
TicketAction = strawberry.enum(
    models.TicketAction, description="The action that resolveTicket performs."
)


@strawberry.type(description="The Settings tab: what SmartLink does on each event.")
class ProvisioningSettings:
    user_gains_access: ProvisioningMode  # type: ignore[valid-type]
    user_loses_access: ProvisioningMode  # type: ignore[valid-type]
    user_deactivated: ProvisioningMode  # type: ignore[valid-type]
    user_updated: ProvisioningMode  # type: ignore[valid-type]
    deprovision_action: DeprovisionAction  # type: ignore[valid-type]
    mass_deprovision_threshold: int = strawberry.field(
        description="Automatic removals allowed within the window before further "
        "ones wait for an admin's confirmation."
    )
    mass_deprovision_window_minutes: int
    dry_run: bool = strawberry.field(
        description="While true, every write to the target is recorded in the "
        "provisioning log as a dry-run operation and not sent; reads still go out."
    )
    refresh_interval: int | None = strawberry.field(
        description="Minutes between scheduled refreshes of the mirror; null when "
        "they are off."
    )

    @classmethod
    def from_model(cls, settings: models.ProvisioningSettings) -> Self:
        return cls(
            user_gains_access=settings.user_gains_access,
            user_loses_access=settings.user_loses_access,
            user_deactivated=settings.user_deactivated,
            user_updated=settings.user_updated,
            deprovision_action=settings.deprovision_action,
            mass_deprovision_threshold=settings.mass_deprovision_threshold,
            mass_deprovision_window_minutes=settings.mass_deprovision_window_minutes,
            dry_run=settings.dry_run,
            refresh_interval=settings.refresh_interval,
        )


@strawberry.type(description="A ticket in SmartLink messaging about an access change.")
class Ticket(relay.Node):
    id: relay.NodeID[str]
    application: Application
    event: ProvisioningEvent  # type: ignore[valid-type]
    status: TicketStatus  # type: ignore[valid-type]
    action: TicketAction | None  # type: ignore[valid-type]
    message: str
    user: User | None
    folder: Folder | None = strawberry.field(
        description="The folder whose linked group the ticket is about, if any."
    )
    resolution: str | None = strawberry.field(
        description="What closing the ticket did, once it is closed."
    )
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_model(
        cls,
        ticket: models.Ticket,
        application: Application,
        user: User | None,
        folder: Folder | None,
    ) -> Self:
        # A message may quote a failure that names the ticket's objects.
        references = {
            ticket.id: "Ticket",
            ticket.application_id: "Application",
            ticket.user_id: "User",
            ticket.folder_id: "Folder",
        }
        return cls(
            id=str(ticket.id),
            application=application,
            event=ticket.event,
            status=ticket.status,
            action=ticket.action,
            message=with_global_ids(ticket.message, references),
            user=user,
            folder=folder,
            resolution=with_global_ids(ticket.resolution, references)
            if ticket.resolution is not None
            else None,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            closed_at=ticket.closed_at,
        )

    @classmethod
    async def from_models(
        cls, info: Info, tickets: Sequence[models.Ticket]
    ) -> list[Self]:
        """Convert tickets, loading their applications and users in two queries."""
        session = info.context.session
        applications = await applications_by_ids(
            session, list({t.application_id for t in tickets})
        )
        users = await users_by_ids(
            session, list({t.user_id for t in tickets if t.user_id is not None})
        )
        folders = await folders_by_ids(
            session, list({t.folder_id for t in tickets if t.folder_id is not None})
        )
        return [
            cls.from_model(
                ticket,
                Application.from_model(applications[ticket.application_id]),
                User.from_model(users[ticket.user_id])
                if ticket.user_id in users
                else None,
                (
                    Folder.from_model(folders[ticket.folder_id])
                    if ticket.folder_id in folders
                    else None
                ),
            )
            for ticket in tickets
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.Ticket, node_ids)
        converted = iter(await cls.from_models(info, [r for r in rows if r]))
        return [next(converted) if row else None for row in rows]
