"""The changes an account update sends: the mapped values that differ.

Values are compared path by path with the mirrored resource, so attributes
the admin changed in the target but the mapping does not cover are left
alone. Each change is keyed by the path a PATCH `replace` operation uses.
"""

from __future__ import annotations

from typing import Any

from domain.mapping.entries import Mapping, MappingEntry
from domain.mapping.evaluate import (
    resource_values,
    same_value,
    user_resource,
    user_values,
)
from domain.models import ScimAccount, User
from domain.scim.paths import AttributePath
from domain.scim.payloads import get_key


def attribute_changes(
    mapping: Mapping, account: ScimAccount, user: User, active: bool
) -> dict[str, Any]:
    """Return the SCIM values to write to `account`, by PATCH path.

    An entry without a value (a field the user left empty) changes nothing,
    so clearing a field in SmartLink does not clear the target's value. A
    changed value inside a filtered multi-valued attribute, such as the
    work email, replaces that attribute with its mapped values, which drops
    values the mapping does not name, such as a home email.
    """
    desired = user_values(mapping, user, active)
    resource = user_resource(mapping, user, active)
    changes: dict[str, Any] = {}
    for entry in differing_entries(mapping, account.raw or {}, desired):
        patch_path = entry.path.patch_path
        if patch_path not in changes:
            changes[patch_path] = _value_at(
                resource, entry.path, desired[str(entry.path)]
            )
    return changes


def differing_entries(
    mapping: Mapping, resource: dict[str, Any], desired: dict[str, Any]
) -> list[MappingEntry]:
    """Return the entries whose `desired` value the resource does not contain.

    `desired` is `user_values` of the user. Entries without a value count
    as in step, because an update never clears an attribute.
    """
    current = resource_values(mapping, resource)
    return [
        entry
        for entry in mapping.entries
        if desired[str(entry.path)] is not None
        and not same_value(desired[str(entry.path)], current[str(entry.path)])
    ]


def _value_at(resource: dict[str, Any], path: AttributePath, value: Any) -> Any:
    if path.value_filter is None:
        return value
    container = resource if path.schema_urn is None else resource[path.schema_urn]
    return get_key(container, path.attribute)
