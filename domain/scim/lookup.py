"""Finding a resource by attribute value, with or without the target's filters.

Some targets ignore filters and return every resource, some compare filter
values case-sensitively, some reject a filter they advertise with 400, and
some support none. Every result is therefore checked against the value, and
reading every resource by paging is the fallback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from domain.scim.client import ScimClient
from domain.scim.errors import ScimResponseError

logger = logging.getLogger(__name__)

#: Statuses with which targets reject a filter they cannot evaluate.
FILTER_REJECTED = frozenset({400, 501})


@dataclass(frozen=True)
class Criterion:
    """One attribute to look a resource up by."""

    #: The attribute path in a filter, such as `emails.value`.
    attribute: str
    value: str
    #: Reads the resource's value of the attribute, as the mirror does.
    read: Callable[[dict[str, Any]], str | None]

    def matches(self, resource: dict[str, Any]) -> bool:
        found = self.read(resource)
        return found is not None and found.lower() == self.value.lower()


def equality_filter(attribute: str, value: str) -> str:
    """Return `attribute eq "value"` with the value quoted as a JSON string.

    RFC 7644 3.4.2.2 takes filter values as JSON strings, so quotes,
    backslashes and control characters are escaped as JSON escapes them.
    """
    return f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"


async def find_first(
    client: ScimClient,
    endpoint: str,
    criteria: Sequence[Criterion],
    *,
    page_size: int,
    scan: bool,
) -> dict[str, Any] | None:
    """Return a resource matching the earliest criterion that matches one.

    Values compare case-insensitively. Filters are used when the target
    supports them. Every resource is read instead when it does not, when it
    rejects a filter, or when `scan` is set and the filters found nothing, as
    after a 409, which shows that the resource exists.
    """
    if client.capabilities.filter.supported:
        try:
            for criterion in criteria:
                found = await _search(client, endpoint, criterion)
                if found is not None:
                    return found
        except ScimResponseError as exc:
            if exc.status not in FILTER_REJECTED:
                raise
            logger.info(
                "Target %s rejected a filter (%s); reading every resource instead.",
                client.base_url,
                exc.status,
            )
        else:
            if not scan:
                return None

    listing = await client.list_all(endpoint, page_size=page_size)
    for criterion in criteria:
        for resource in listing.resources:
            if criterion.matches(resource):
                return resource
    return None


async def _search(
    client: ScimClient, endpoint: str, criterion: Criterion
) -> dict[str, Any] | None:
    filter_ = equality_filter(criterion.attribute, criterion.value)
    resources = await client.search(endpoint, filter_)
    matching = [r for r in resources if criterion.matches(r)]
    if len(matching) < len(resources):
        logger.info(
            "Target %s returned %d resources for %r, of which %d match.",
            client.base_url,
            len(resources),
            criterion.attribute,
            len(matching),
        )
    return matching[0] if matching else None
