"""API tokens that authenticate GraphQL requests."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from domain.models.columns import UTCDateTime, new_id, utcnow


class TokenRole(enum.Enum):
    ADMIN = "admin"
    VIEWER = "viewer"


class ApiToken(SQLModel, table=True):
    """A named API token; only the SHA-256 digest of its secret is stored."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(unique=True)
    token_hash: str = Field(unique=True, index=True, repr=False)
    role: TokenRole = TokenRole.ADMIN
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
