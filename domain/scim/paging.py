"""Reading a whole collection by index paging (RFC 7644 3.4.2.4), defensively.

Targets ignore `startIndex`, repeat pages, misstate or omit `totalResults` and
cap page sizes below `count`. Paging stops on the first of:

- an empty page;
- `startIndex` past `totalResults` after a page shorter than an earlier one.
  A page as long as the longest so far may hide more resources behind a
  `totalResults` that is too low, so the next page is read to find out;
- a page bringing no id not already read;
- an echoed `startIndex` that moved differently from the requested one;
- `MAX_PAGES` pages.

A listing that stopped for one of the last three reasons, or that read fewer
resources than `totalResults` announced, is marked incomplete, and an
incomplete listing must never be used to delete anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.scim.payloads import get_key, parse_int, resource_id

if TYPE_CHECKING:
    from domain.scim.client import ScimClient

logger = logging.getLogger(__name__)

#: Pages read at most from one listing; a target that pages past this is
#: reported as incomplete rather than read forever.
MAX_PAGES = 5_000

ProgressCallback = Callable[[int, int | None], Awaitable[None]]


@dataclass
class Listing:
    """Every resource a listing returned, and whether the listing can be trusted."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None
    #: False when paging stopped early or the target's paging misbehaved; an
    #: incomplete listing must never be used to delete anything.
    complete: bool = True
    problem: str | None = None


def page_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the objects of a ListResponse's `Resources`, with or without ids.

    `Resources` may be absent or null in an empty list.
    """
    resources = get_key(body, "Resources")
    if not isinstance(resources, list):
        return []
    return [r for r in resources if isinstance(r, dict)]


def with_ids(items: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    resources = [r for r in items if resource_id(r) is not None]
    if len(resources) < len(items):
        logger.warning(
            "Skipped %d resources without an id listed by %s.",
            len(items) - len(resources),
            url,
        )
    return resources


async def list_all(
    client: ScimClient,
    endpoint: str,
    *,
    page_size: int,
    on_page: ProgressCallback | None = None,
) -> Listing:
    """Read every resource of `endpoint`, page by page; see the module's rules."""
    listing = Listing()
    seen: set[str] = set()
    start = 1
    longest_page = 0
    echo_shift: int | None = None
    url = f"{client.base_url}/{endpoint}"

    for _ in range(MAX_PAGES):
        body = await client.get(endpoint, startIndex=start, count=page_size)
        items = page_items(body)
        resources = with_ids(items, url)
        total = parse_int(get_key(body, "totalResults"))
        listing.total = total if total is not None else listing.total

        # Some targets echo startIndex 0-based, so only a change of that offset
        # shows that the target returned another page than the one requested.
        echoed = parse_int(get_key(body, "startIndex"))
        if items and echoed is not None:
            echo_shift = echoed - start if echo_shift is None else echo_shift
            if echoed - start != echo_shift:
                if not _all_read(listing, seen):
                    _mark_incomplete(
                        listing,
                        f"the target answered startIndex {start} with the page at "
                        f"startIndex {echoed}",
                    )
                return listing

        fresh = [r for r in resources if resource_id(r) not in seen]
        seen.update(str(resource_id(r)) for r in fresh)
        listing.resources.extend(fresh)
        if on_page is not None:
            await on_page(len(listing.resources), listing.total)

        if not items:
            _check_count(listing, seen)
            return listing
        if resources and not fresh:
            if not _all_read(listing, seen):
                _mark_incomplete(
                    listing,
                    f"the page at startIndex {start} repeated resources already read",
                )
            return listing

        # Resources without an id still take their place in the paging.
        start += len(items)
        short = len(items) < longest_page
        longest_page = max(longest_page, len(items))
        if short and listing.total is not None and start > listing.total:
            _check_count(listing, seen)
            return listing

    _mark_incomplete(listing, f"paging went past {MAX_PAGES} pages")
    return listing


def _all_read(listing: Listing, seen: set[str]) -> bool:
    """Return whether as many resources were read as `totalResults` announced."""
    return listing.total is not None and len(seen) >= listing.total


def _check_count(listing: Listing, seen: set[str]) -> None:
    if listing.total is not None and len(seen) < listing.total:
        _mark_incomplete(
            listing,
            f"the target listed {len(seen)} of the {listing.total} resources it "
            "announced",
        )


def _mark_incomplete(listing: Listing, problem: str) -> None:
    listing.complete = False
    listing.problem = problem
    logger.warning("SCIM listing is incomplete: %s.", problem)
