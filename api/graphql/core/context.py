"""The per-request GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.types import Info as StrawberryInfo

from domain.models import ApiToken


@dataclass
class Context:
    session: AsyncSession
    token: ApiToken

    @property
    def trigger(self) -> str:
        """How the provisioning log names a change made through this request."""
        return f"api:{self.token.name}"


Info = StrawberryInfo[Context, None]
