"""`UserError`: the expected failures that every mutation payload lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from api.graphql.core.context import Info
from api.graphql.core.ids import message_for_client
from domain.errors import DomainError, DomainErrors
from domain.errors import ErrorCode as DomainErrorCode
from jobs.relay import nudge as nudge_relay

ErrorCode = strawberry.enum(
    DomainErrorCode, description="Why a mutation could not do what it was asked."
)

T = TypeVar("T")


@strawberry.type(description="An expected failure of a mutation.")
class UserError:
    code: ErrorCode  # type: ignore[valid-type]
    message: str = strawberry.field(
        description="What failed, on which value, and what to do next."
    )
    field: list[str] | None = strawberry.field(
        default=None, description="Path into the input of the field at fault."
    )

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(
            code=error.code, message=message_for_client(error), field=error.field
        )

    @classmethod
    def list_from_domain(cls, error: DomainError) -> list[UserError]:
        """Return one error per failure that `error` carries."""
        if isinstance(error, DomainErrors):
            return [cls.from_domain(each) for each in error.errors]
        return [cls.from_domain(error)]


async def run_mutation(
    info: Info, action: Callable[[], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run a domain action in the request's transaction.

    Commits on success. On a `DomainError`, rolls back what is not yet
    committed and returns it as a `UserError` instead of a result.
    """
    session = info.context.session
    try:
        result = await action()
    except DomainError as error:
        await session.rollback()
        return None, UserError.list_from_domain(error)
    await session.commit()
    nudge_relay()
    return result, []
