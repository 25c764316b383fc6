"""Attribute mappings saved per application."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from domain.models.columns import JSONColumn, UTCDateTime, application_fk, utcnow


class AttributeMapping(SQLModel, table=True):
    """An application's user or group mapping; without a row, the defaults apply."""

    __tablename__ = "attribute_mappings"

    application_id: uuid.UUID = application_fk(primary_key=True)
    #: `USER` or `GROUP`.
    kind: str = Field(primary_key=True)
    #: The entries in order, each `{"path", "source", "value"}`.
    entries: list[Any] = Field(default_factory=list, sa_type=JSONColumn)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
