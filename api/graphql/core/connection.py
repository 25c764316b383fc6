"""Relay connections (`edges`, `pageInfo`, `totalCount`) over domain pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry
from graphql import GraphQLError

from domain.pagination import Page, PageRequest

T = TypeVar("T")
S = TypeVar("S")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CURSOR_PREFIX = "offset:"


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Items in the whole list.")

    @classmethod
    def from_page(cls, page: Page[S], convert: Callable[[S], T]) -> Connection[T]:
        nodes: Sequence[T] = [convert(item) for item in page.items]
        edges = [
            Edge(cursor=encode_cursor(page.offset + index), node=node)
            for index, node in enumerate(nodes)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total,
        )


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str, argument: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if text.startswith(CURSOR_PREFIX):
            offset = int(text[len(CURSOR_PREFIX) :])
            if offset >= 0:
                return offset
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise GraphQLError(
        f"Cursor {cursor!r} in `{argument}` is not valid; pass a cursor from this "
        "list's edges or pageInfo."
    )


def _check_size(value: int | None, argument: str) -> None:
    if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
        raise GraphQLError(
            f"`{argument}` is {value}; it must be between 0 and {MAX_PAGE_SIZE}. "
            "Page through longer lists with `after`."
        )


def page_request(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """Turn Relay arguments into a `PageRequest`; forward paging wins if mixed.

    As in the Relay specification, `after` and `before` bound the list first and
    `last` then keeps the final edges of what remains.
    """
    _check_size(first, "first")
    _check_size(last, "last")
    if last is not None and first is None:
        start = decode_cursor(after, "after") + 1 if after is not None else 0
        end = decode_cursor(before, "before") if before is not None else None
        return PageRequest(offset=start, limit=last, backward=True, end=end)

    offset = decode_cursor(after, "after") + 1 if after is not None else 0
    limit = first if first is not None else DEFAULT_PAGE_SIZE
    if before is not None:
        limit = max(0, min(limit, decode_cursor(before, "before") - offset))
    return PageRequest(offset=offset, limit=limit)
