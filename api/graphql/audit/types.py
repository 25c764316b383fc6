"""GraphQL type of the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Self, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.graphql.core.context import Info
from api.graphql.core.nodes import load_models
from api.graphql.core.permissions import require_admin
from domain import models

READ_AUDIT_LOG = "read the audit log"


@strawberry.type(
    description="A configuration change or destructive action, and who made it."
)
class AuditEntry(relay.Node):
    id: relay.NodeID[str]
    action: str = strawberry.field(
        description="The mutation or command, such as `configureProvisioning`."
    )
    token_name: str | None = strawberry.field(
        description="The API token that made the change; null for the "
        "command-line interface and for automation."
    )
    object_ids: list[strawberry.ID] = strawberry.field(
        description="Ids of the objects acted on, which may since be deleted."
    )
    changes: JSON = strawberry.field(
        description='Each changed value as {"old": ..., "new": ...}. A secret '
        'shows only as "set", "replaced" or "cleared", and a bulk command such '
        "as rotate-key shows counts."
    )
    created_at: datetime

    @classmethod
    def from_model(cls, entry: models.AuditEntry) -> Self:
        return cls(
            id=str(entry.id),
            action=entry.action,
            token_name=entry.token_name,
            object_ids=[
                strawberry.ID(relay.to_base64(type_name, object_id))
                for type_name, object_id in entry.object_ids.items()
            ],
            changes=cast(JSON, entry.changes),
            created_at=entry.created_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        require_admin(info, READ_AUDIT_LOG)
        rows = await load_models(info, models.AuditEntry, node_ids)
        return [cls.from_model(row) if row else None for row in rows]
