"""Offset pages over SQL statements, each read with two queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from domain.errors import InvalidInput

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    offset: int = 0
    limit: int = 50
    #: Take the last `limit` rows from `offset` up to `end` (or up to the end of
    #: the list when `end` is None) instead of the first `limit` rows.
    backward: bool = False
    end: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


async def fetch_page(
    session: AsyncSession, statement: SelectOfScalar[T], page: PageRequest
) -> Page[T]:
    """Run `statement` for one page of rows and count all of its rows.

    `statement` must select one entity and already carry its ORDER BY.
    """
    counted: Any = statement.order_by(None).subquery()
    total = int((await session.exec(select(func.count()).select_from(counted))).one())
    offset, limit = page.offset, page.limit
    if page.backward:
        end = total if page.end is None else min(page.end, total)
        offset = max(page.offset, end - page.limit)
        limit = max(0, end - offset)
    rows = await session.exec(statement.offset(offset).limit(limit))
    return Page(items=list(rows), total=total, offset=offset)


#: Characters of a `search` argument at most. SQLite rejects LIKE patterns of
#: about 50,000 characters, and no list needs a longer search.
SEARCH_MAX_LENGTH = 200


def like_pattern(search: str) -> str:
    """Return a LIKE pattern matching `search` anywhere, with wildcards escaped."""
    if len(search) > SEARCH_MAX_LENGTH:
        raise InvalidInput(
            f"search is {len(search)} characters long; the maximum is "
            f"{SEARCH_MAX_LENGTH}. Search for a shorter part of the value.",
            field=["search"],
        )
    escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%")
    return "%" + escaped.replace("_", "\\_") + "%"
