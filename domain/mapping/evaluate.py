"""Building SCIM resources from a mapping, and reading mapped values back.

`user_resource` and `group_resource` return the body a create sends, before
`domain.scim.outgoing.prepare_resource` fits it to the target. `user_values`
and `resource_values` return values by path, so an update, a preview or a
drift check can compare what the mapping produces with a mirrored resource.
"""

from __future__ import annotations

from typing import Any

from domain.mapping.entries import Mapping, MappingEntry, SourceKind
from domain.mapping.templates import render
from domain.models import Folder, User
from domain.scim.outgoing import unqualified
from domain.scim.paths import AttributePath
from domain.scim.payloads import get_key, multi_valued, parse_bool


def user_fields(user: User, active: bool) -> dict[str, Any]:
    """Return the SmartLink values a user mapping reads, by field name."""
    return {
        "id": str(user.id),
        "email": user.email,
        "givenName": user.given_name,
        "familyName": user.family_name,
        "displayName": user.display_name,
        "active": active,
        "title": user.title,
        "department": user.department,
        "phoneNumber": user.phone_number,
        "preferredLanguage": user.preferred_language,
        "employeeNumber": user.employee_number,
    }


def folder_fields(folder: Folder) -> dict[str, Any]:
    """Return the SmartLink values a group mapping reads, by field name."""
    return {"id": str(folder.id), "name": folder.name}


def user_resource(mapping: Mapping, user: User, active: bool) -> dict[str, Any]:
    """Return the SCIM User that a create of the user's account sends."""
    return build_resource(mapping, user_fields(user, active))


def group_resource(mapping: Mapping, folder: Folder) -> dict[str, Any]:
    """Return the SCIM Group, without members, that a create of the folder's sends."""
    return build_resource(mapping, folder_fields(folder))


def user_values(mapping: Mapping, user: User, active: bool) -> dict[str, Any]:
    """Return the mapped values of the user's account by path; None when unset."""
    return mapped_values(mapping, user_fields(user, active))


def mapped_values(mapping: Mapping, fields: dict[str, Any]) -> dict[str, Any]:
    """Return the value of each entry by path, None when it is empty.

    A filtered value whose `value` sub-attribute is empty, such as the work
    phone number of a user without one, is empty as a whole: its other
    entries, such as a constant `primary`, count as empty too. So no value is
    created with a type but no `value`, and an update removes the whole value.
    """
    values = {str(entry.path): entry_value(entry, fields) for entry in mapping.entries}
    empty_selections = {
        str(entry.path.selected_value).lower()
        for entry in mapping.entries
        if selects_value(entry.path) and values[str(entry.path)] is None
    }
    for entry in mapping.entries:
        if str(entry.path.selected_value).lower() in empty_selections:
            values[str(entry.path)] = None
    return values


def selects_value(path: AttributePath) -> bool:
    """Return whether a filtered path names the `value` of the values it selects."""
    return (
        path.value_filter is not None
        and path.sub_attribute is not None
        and path.sub_attribute.lower() == "value"
    )


def entry_value(entry: MappingEntry, fields: dict[str, Any]) -> Any:
    """Return the value an entry produces from SmartLink `fields`."""
    if entry.source is SourceKind.FIELD:
        return fields.get(entry.value)
    if entry.source is SourceKind.TEMPLATE:
        return render(entry.value, fields)
    return entry.value


def build_resource(mapping: Mapping, fields: dict[str, Any]) -> dict[str, Any]:
    """Set each entry's value at its path; entries without a value are left out."""
    resource: dict[str, Any] = {"schemas": [mapping.kind.core_urn]}
    values = mapped_values(mapping, fields)
    for entry in mapping.entries:
        value = values[str(entry.path)]
        if value is None:
            continue
        path = entry.path
        container = resource
        if path.schema_urn is not None:
            if path.schema_urn not in resource["schemas"]:
                resource["schemas"].append(path.schema_urn)
            container = resource.setdefault(path.schema_urn, {})
        set_value(container, path, value)
    return resource


def set_value(container: dict[str, Any], path: AttributePath, value: Any) -> None:
    """Set `value` at `path` inside `container`, the resource or an extension."""
    if path.value_filter is not None and path.sub_attribute is not None:
        items = container.setdefault(path.attribute, [])
        _matching_item(items, path.value_filter)[path.sub_attribute] = value
    elif path.sub_attribute is not None:
        parent = container.setdefault(path.attribute, {})
        parent[path.sub_attribute] = value
    else:
        container[path.attribute] = value


def _matching_item(items: list[dict[str, Any]], value_filter: tuple[str, str]) -> Any:
    name, expected = value_filter
    for item in items:
        if item.get(name) == expected:
            return item
    item = {name: expected}
    items.append(item)
    return item


def resource_values(mapping: Mapping, resource: dict[str, Any]) -> dict[str, Any]:
    """Return the values a mirrored resource contains at the mapping's paths.

    Keys match case-insensitively, and a filter compares its value
    case-insensitively too, as RFC 7644 3.4.2.2 does for most attributes.
    """
    flat = unqualified(resource, mapping.kind.core_urn)
    return {str(entry.path): read_value(flat, entry.path) for entry in mapping.entries}


def read_value(resource: dict[str, Any], path: AttributePath) -> Any:
    container: Any = resource
    if path.schema_urn is not None:
        container = get_key(resource, path.schema_urn)
        if container is None:
            container = {
                key[len(path.schema_urn) + 1 :]: value
                for key, value in resource.items()
                if key.lower().startswith(path.schema_urn.lower() + ":")
            }
    value = get_key(container, path.attribute)
    if path.value_filter is not None:
        name, expected = path.value_filter
        matches = [
            item
            for item in multi_valued(value)
            if str(get_key(item, name) or "").lower() == expected.lower()
        ]
        value = matches[0] if matches else None
    if path.sub_attribute is not None:
        value = get_key(value, path.sub_attribute)
    return value


def same_value(mapped: Any, current: Any) -> bool:
    """Return whether a mirrored value equals the mapped one.

    Strings compare case-sensitively, because a target shows what it stores;
    booleans also match their string and 0/1 forms.
    """
    if isinstance(mapped, bool):
        return parse_bool(current) is mapped
    return bool(mapped == current)
