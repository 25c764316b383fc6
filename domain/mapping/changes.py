"""The changes an account update sends: the mapped values that differ.

Values are compared path by path with the mirrored resource, so attributes
the admin changed in the target but the mapping does not cover are left
alone. Each change is keyed by the path of its PATCH operation: a value to
`replace`, or `REMOVE` where SmartLink's value is empty but the target has one.
"""

from __future__ import annotations

import logging
from typing import Any

from domain.mapping.entries import Mapping, MappingEntry
from domain.mapping.evaluate import (
    resource_values,
    same_value,
    selects_value,
    user_resource,
    user_values,
)
from domain.models import ScimAccount, User
from domain.scim.paths import AttributePath
from domain.scim.payloads import get_key
from domain.scim.target_schema import TargetSchema
from domain.scim.writes import REMOVE

logger = logging.getLogger(__name__)

#: Attributes that an update never removes, whatever the target's schema
#: declares, because RFC 7643 4.1.1 makes userName required.
ALWAYS_REQUIRED = frozenset({"username"})


def attribute_changes(
    mapping: Mapping,
    account: ScimAccount,
    user: User,
    active: bool,
    schema: TargetSchema,
) -> dict[str, Any]:
    """Return the SCIM values to write to `account`, by PATCH path.

    An entry without a value (an empty field, or a template whose fields are
    all empty) removes the target's attribute. A required attribute is kept
    instead, and a warning is logged. An empty `value` of a filtered
    multi-valued attribute removes that one value, by a path such as
    `phoneNumbers[type eq "work"]`. A changed value inside such an attribute
    replaces the attribute with its mapped values, which drops values the
    mapping does not name, such as a home email.
    """
    desired = user_values(mapping, user, active)
    resource = user_resource(mapping, user, active)
    current = account.raw or {}
    changes: dict[str, Any] = {}
    differing, required_cleared = _compare(mapping, current, desired, schema)
    for entry in differing:
        value = desired[str(entry.path)]
        if value is None:
            changes.setdefault(removal_path(entry.path), REMOVE)
        elif entry.path.patch_path not in changes:
            changes[entry.path.patch_path] = _value_at(resource, entry.path, value)

    # A replaced multi-valued attribute gets its mapped values only, so the
    # values that its filtered removals name are gone already.
    replaced = {path.lower() for path, value in changes.items() if value is not REMOVE}
    for entry in mapping.entries:
        selected = removal_path(entry.path)
        if entry.path.value_filter is None or selected not in changes:
            continue
        if entry.path.patch_path.lower() in replaced:
            del changes[selected]

    for entry in required_cleared:
        logger.warning(
            "Not removing %s from account %r (user %s): the target requires it, "
            "but SmartLink's value for it is empty. Fill in the user's field, or "
            "map the attribute from a field that is always set.",
            entry.path,
            account.scim_id,
            user.id,
        )
    return changes


def differing_entries(
    mapping: Mapping,
    resource: dict[str, Any],
    desired: dict[str, Any],
    schema: TargetSchema,
) -> list[MappingEntry]:
    """Return the entries whose `desired` value the resource does not contain.

    `desired` is `user_values` of the user. An entry without a value differs
    when the resource has a value at its path, unless the attribute is
    required, because an update cannot remove it.
    """
    differing, _required_cleared = _compare(mapping, resource, desired, schema)
    return differing


def _compare(
    mapping: Mapping,
    resource: dict[str, Any],
    desired: dict[str, Any],
    schema: TargetSchema,
) -> tuple[list[MappingEntry], list[MappingEntry]]:
    """Split the entries that differ into those to write and the required ones cleared.

    A cleared required entry has no value, but the resource has a value at its
    required attribute, which an update keeps.
    """
    current = resource_values(mapping, resource)
    differing = []
    required_cleared = []
    for entry in mapping.entries:
        path = str(entry.path)
        expected = desired[path]
        actual = current[path]
        if expected is not None:
            if not same_value(expected, actual):
                differing.append(entry)
        elif _unassigned(actual):
            continue
        elif is_required(entry.path, schema, mapping.kind.core_urn):
            required_cleared.append(entry)
        else:
            differing.append(entry)
    return differing, required_cleared


def removal_path(path: AttributePath) -> str:
    """Return the path that a PATCH `remove` of an entry's attribute names.

    For `emails[type eq "work"].value` it is the selected value as a whole,
    `emails[type eq "work"]`. Other paths are removed as they are written.
    """
    if selects_value(path):
        return str(path.selected_value)
    return str(path)


def is_required(path: AttributePath, schema: TargetSchema, core_urn: str) -> bool:
    """Return whether a removal at `removal_path` would unset a required attribute.

    Both the attribute and the sub-attribute count. A required `value`
    sub-attribute does not stop the removal of a whole selected value.
    """
    if path.schema_urn is None and path.attribute.lower() in ALWAYS_REQUIRED:
        return True
    urn = path.schema_urn or core_urn
    attribute = schema.definition(urn, path.attribute)
    if attribute is not None and attribute.required:
        return True
    if path.sub_attribute is None or selects_value(path):
        return False
    sub_attribute = schema.definition(urn, path.attribute_path)
    return sub_attribute is not None and sub_attribute.required


def _unassigned(value: Any) -> bool:
    """Return whether a target's value counts as no value.

    RFC 7643 2.5 treats null and an empty array as unassigned. An empty
    string and an empty object count too, so that a target that returns
    those for an unset attribute does not drift forever.
    """
    return value is None or value in ("", [], {})


def _value_at(resource: dict[str, Any], path: AttributePath, value: Any) -> Any:
    if path.value_filter is None:
        return value
    container = resource if path.schema_urn is None else resource[path.schema_urn]
    return get_key(container, path.attribute)
