"""Root query fields of SmartLink messaging."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from api.graphql.automation.types import Ticket, TicketStatus
from api.graphql.core.connection import Connection, page_request
from api.graphql.core.context import Info
from api.graphql.core.ids import decode_id
from domain.automation.tickets import list_tickets
from domain.errors import DomainError


@strawberry.type
class AutomationQueries:
    @strawberry.field(description="Tickets of SmartLink messaging, newest first.")
    async def tickets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        status: TicketStatus | None = None,  # type: ignore[valid-type]
        application_id: strawberry.ID | None = None,
    ) -> Connection[Ticket]:
        application = None
        if application_id is not None:
            try:
                application = decode_id(application_id, "Application", "applicationId")
            except DomainError as error:
                raise GraphQLError(error.message) from None
        page = await list_tickets(
            info.context.session,
            page_request(first, after, last, before),
            status=status,
            application_id=application,
        )
        nodes = iter(await Ticket.from_models(info, page.items))
        return Connection.from_page(page, lambda _: next(nodes))
