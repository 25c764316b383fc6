"""The audit log: who changed the configuration or destroyed what, and when."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from domain.models.columns import JSONColumn, UTCDateTime, new_id, utcnow


class AuditEntry(SQLModel, table=True):
    """One configuration change or destructive action, with the token behind it.

    Entries carry ids, not foreign keys, so they outlive what they name.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_created", "created_at"),
        Index("ix_audit_entries_app_created", "application_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Name of the API token that made the change; None when it came from the
    #: command-line interface or from automation.
    token_name: str | None = None
    #: The mutation or command, such as `configureProvisioning` or `rotate-key`.
    action: str
    application_id: uuid.UUID | None = None
    #: Ids of the objects acted on, keyed by type name (`User`, `ScimAccount`).
    object_ids: dict[str, str] = Field(default_factory=dict, sa_type=JSONColumn)
    #: Changed values as `{"name": {"old": ..., "new": ...}}`; a secret shows
    #: only as "set", "replaced" or "cleared".
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
