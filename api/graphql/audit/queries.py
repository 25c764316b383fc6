"""Root query field of the audit log, for admin tokens."""

from __future__ import annotations

import strawberry

from api.graphql.audit.types import READ_AUDIT_LOG, AuditEntry
from api.graphql.core.connection import Connection, page_request
from api.graphql.core.context import Info
from api.graphql.core.ids import decode_id
from api.graphql.core.permissions import require_admin
from domain.audit import list_audit_entries


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="Configuration changes and destructive actions, newest "
        "first; admin tokens only."
    )
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        application_id: strawberry.ID | None = None,
        action: str | None = None,
    ) -> Connection[AuditEntry]:
        require_admin(info, READ_AUDIT_LOG)
        application = (
            decode_id(application_id, "Application", "applicationId")
            if application_id is not None
            else None
        )
        page = await list_audit_entries(
            info.context.session,
            page_request(first, after, last, before),
            application_id=application,
            action=action,
        )
        return Connection.from_page(page, AuditEntry.from_model)
