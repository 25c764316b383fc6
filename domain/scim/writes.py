"""Updating a resource by PATCH, or by GET and PUT, whichever the target takes."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from domain.scim.capabilities import UpdateMethod
from domain.scim.client import ScimClient, patch_request
from domain.scim.errors import ScimMisrouted, ScimNotFound, ScimResponseError
from domain.scim.outgoing import prepare_resource, unqualified
from domain.scim.paths import AttributePath, parse_patch_path
from domain.scim.payloads import get_key, multi_valued, resource_id

logger = logging.getLogger(__name__)

#: Statuses with which a target rejects an update method it does not take.
#: A 400 may also reject the values; the other method then gets it too.
METHOD_REJECTED = frozenset({400, 405, 501})


class Removal(enum.Enum):
    """The type of `REMOVE`, a one-member enum so that type checkers know it."""

    REMOVE = "remove"


#: The value in an update's `values` that removes the attribute at its path,
#: or with a `selected_value` path, the values that the filter selects.
REMOVE = Removal.REMOVE


@dataclass(frozen=True)
class Update:
    """The resource after an update, and the method that made it."""

    resource: dict[str, Any]
    method: UpdateMethod
    #: Whether the target rejected the other method first, so the connection
    #: should remember `method`.
    fell_back: bool


async def update_resource(
    client: ScimClient,
    endpoint: str,
    schema_urn: str,
    scim_id: str,
    values: dict[str, Any],
) -> Update:
    """Set attribute `values`, keyed by path (`name` or `name.sub`), on a resource.

    A value of `REMOVE` removes the attribute, or the values that a filtered
    path such as `emails[type eq "work"]` selects.

    Sends the update method the target's capabilities name. When the target
    rejects it with 400, 405 or 501, the other method is sent once. If that
    is rejected the same way too, the first rejection is raised.
    """
    first = client.capabilities.update_method
    try:
        resource = await _send(client, first, endpoint, schema_urn, scim_id, values)
        return Update(resource, first, fell_back=False)
    except ScimResponseError as exc:
        if exc.status not in METHOD_REJECTED:
            raise
        rejected = exc

    second = UpdateMethod.PUT if first is UpdateMethod.PATCH else UpdateMethod.PATCH
    logger.info(
        "%s %s returned %s; sending %s instead.",
        first.value,
        rejected.url,
        rejected.status,
        second.value,
    )
    try:
        resource = await _send(client, second, endpoint, schema_urn, scim_id, values)
    except ScimResponseError as exc:
        if exc.status in METHOD_REJECTED:
            raise rejected from exc
        raise
    return Update(resource, second, fell_back=True)


async def _send(
    client: ScimClient,
    method: UpdateMethod,
    endpoint: str,
    schema_urn: str,
    scim_id: str,
    values: dict[str, Any],
) -> dict[str, Any]:
    if method is UpdateMethod.PATCH:
        payload = patch_request(patch_operations(values))
        returned = (await client.patch(endpoint, scim_id, payload)).body
    else:
        returned = await _replace(client, endpoint, schema_urn, scim_id, values)
    if returned is not None and resource_id(returned) is not None:
        return returned
    # 204, or a body without the resource: read what the target now stores.
    return await client.get_resource(endpoint, scim_id)


def patch_operations(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn attribute values into operations, lowercase as RFC 7644 sends them.

    `REMOVE` becomes a `remove` operation with a path only (RFC 7644
    3.5.2.2), and any other value a `replace` operation.
    """
    operations = []
    for path, value in values.items():
        if value is REMOVE:
            operations.append({"op": "remove", "path": path})
        else:
            operations.append({"op": "replace", "path": path, "value": value})
    return operations


async def _replace(
    client: ScimClient,
    endpoint: str,
    schema_urn: str,
    scim_id: str,
    values: dict[str, Any],
) -> dict[str, Any] | None:
    """GET the resource, then PUT it back with `values` applied.

    A 404 to the PUT right after a 200 to the GET of the same URL shows that
    PUT requests are routed elsewhere, not that the resource is gone.
    """
    current = await client.get_resource(endpoint, scim_id)
    merged = merge_values(unqualified(current, schema_urn), values)
    body = prepare_resource(merged, schema_urn, client.schema)
    try:
        return (await client.replace(endpoint, scim_id, body)).body
    except ScimNotFound as exc:
        raise ScimMisrouted(
            f"{exc.message.rstrip('.')}, right after GET of the same URL returned "
            "200, so PUT requests are routed elsewhere.",
            status=exc.status,
            detail=exc.detail,
            scim_type=exc.scim_type,
            method=exc.method,
            url=exc.url,
        ) from exc


def merge_values(resource: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Apply attribute `values` to a copy of a resource, matching keys in any case.

    A path under an extension's URN sets the value inside that extension's
    object, and adds the URN to `schemas` when the resource lists them.
    `REMOVE` deletes what its path names, as a PATCH `remove` would.
    """
    merged = dict(resource)
    for text, value in values.items():
        path = parse_patch_path(text, "")
        if value is REMOVE:
            _remove_path(merged, path)
            continue
        container = merged
        if path.schema_urn is not None:
            extension = get_key(merged, path.schema_urn)
            container = dict(extension) if isinstance(extension, dict) else {}
            _set_key(merged, path.schema_urn, container)
            _list_schema(merged, path.schema_urn)
        if path.sub_attribute is None:
            _set_key(container, path.attribute, value)
            continue
        parent = get_key(container, path.attribute)
        parent = dict(parent) if isinstance(parent, dict) else {}
        _set_key(parent, path.sub_attribute, value)
        _set_key(container, path.attribute, parent)
    return merged


def _remove_path(resource: dict[str, Any], path: AttributePath) -> None:
    """Delete what `path` names from `resource`, and any object left empty.

    An extension left without attributes is deleted with its URN in `schemas`.
    """
    if path.schema_urn is None:
        _remove_in(resource, path)
        return
    extension = get_key(resource, path.schema_urn)
    if not isinstance(extension, dict):
        return
    container = dict(extension)
    _remove_in(container, path)
    if container:
        _set_key(resource, path.schema_urn, container)
        return
    _delete_key(resource, path.schema_urn)
    schemas = get_key(resource, "schemas")
    if isinstance(schemas, list):
        other_schemas = [
            s for s in schemas if str(s).lower() != path.schema_urn.lower()
        ]
        _set_key(resource, "schemas", other_schemas)


def _remove_in(container: dict[str, Any], path: AttributePath) -> None:
    """Delete what `path` names inside the resource or one extension's object.

    A filter compares its value case-insensitively, as `resource_values`
    reads it, and a multi-valued attribute left without values is deleted.
    """
    current = get_key(container, path.attribute)
    if path.value_filter is not None:
        name, expected = path.value_filter
        remaining: list[Any] = []
        for item in multi_valued(current):
            if str(get_key(item, name) or "").lower() != expected.lower():
                remaining.append(item)
            elif path.sub_attribute is not None:
                remaining.append(_without_key(item, path.sub_attribute))
        _set_or_delete(container, path.attribute, remaining)
    elif path.sub_attribute is not None:
        if isinstance(current, dict):
            parent = _without_key(current, path.sub_attribute)
            _set_or_delete(container, path.attribute, parent)
    else:
        _delete_key(container, path.attribute)


def _without_key(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k.lower() != key.lower()}


def _set_or_delete(document: dict[str, Any], key: str, value: Any) -> None:
    if value:
        _set_key(document, key, value)
    else:
        _delete_key(document, key)


def _delete_key(document: dict[str, Any], key: str) -> None:
    for existing in [k for k in document if k.lower() == key.lower()]:
        del document[existing]


def _list_schema(resource: dict[str, Any], urn: str) -> None:
    schemas = get_key(resource, "schemas")
    if not isinstance(schemas, list):
        return
    if urn.lower() not in {str(s).lower() for s in schemas}:
        _set_key(resource, "schemas", [*schemas, urn])


def _set_key(document: dict[str, Any], key: str, value: Any) -> None:
    _delete_key(document, key)
    document[key] = value
