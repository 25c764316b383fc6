"""Reading SCIM resources that targets return, and building the ones we send.

Targets differ in key case, value types and value shapes, so attributes are
read leniently here. What we send is built with scim2-models, so it follows
RFC 7643.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from scim2_models import Context, Email, Name, PatchOp, PatchOperation
from scim2_models import Group as ScimGroup
from scim2_models import User as ScimUser

logger = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

#: Lowercase attribute names that RFC 7643 defines for each core schema.
KNOWN_ATTRIBUTES = {
    USER_SCHEMA: frozenset(
        (field.serialization_alias or name).lower()
        for name, field in ScimUser.model_fields.items()
    ),
    GROUP_SCHEMA: frozenset(
        (field.serialization_alias or name).lower()
        for name, field in ScimGroup.model_fields.items()
    ),
}

#: Distinct unknown attributes logged at most, so a target sending a new
#: key on every resource cannot fill the log.
UNKNOWN_LOG_LIMIT = 200

_logged_unknown: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


def get_key(document: Any, key: str) -> Any:
    """Return `document[key]`, matching the key case-insensitively (RFC 7643 2.1)."""
    if not isinstance(document, dict):
        return None
    if key in document:
        return document[key]
    lowered = key.lower()
    for name, value in document.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def get_attribute(resource: Any, name: str, schema: str) -> Any:
    """Return a core attribute, also when the target put it under its schema URN.

    RFC 7644 3.10 allows the fully qualified `<schema URN>:<name>` form, and
    some targets nest core attributes in an object under the URN.
    """
    value = get_key(resource, name)
    if value is None:
        value = get_key(resource, f"{schema}:{name}")
    if value is None:
        value = get_key(get_key(resource, schema), name)
    return value


def parse_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_bool(value: Any) -> bool | None:
    """Read a SCIM boolean, also when a target sends it as a string or 0/1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0"):
        return False
    return None


def resource_id(resource: Any) -> str | None:
    """Return a resource's `id` as a string, whatever JSON type the target used."""
    value = get_key(resource, "id")
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    return text or None


def multi_valued(value: Any) -> list[dict[str, Any]]:
    """Return the items of a multi-valued attribute, whatever its shape.

    A single object or string counts as a list of one. A string or number in
    the list counts as an item with that `value`. Anything else, such as a
    bare number (perhaps a count), counts as no items.
    """
    if isinstance(value, (dict, str)):
        value = [value]
    if not isinstance(value, list):
        return []
    items = []
    for item in value:
        if isinstance(item, dict):
            items.append(item)
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            items.append({"value": item})
    return items


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def primary_email(resource: dict[str, Any]) -> str | None:
    """Return the primary email, else the work one, else the first one listed.

    Among several primaries, the work one wins, else the first.
    """
    values = _email_values(resource)
    chosen = primary_or_work_email(resource)
    if chosen is not None:
        return chosen
    return _text(get_key(values[0], "value")) if values else None


def primary_or_work_email(resource: dict[str, Any]) -> str | None:
    """Return the primary email (the work one among several), else a work one."""
    values = _email_values(resource)
    primaries = [e for e in values if parse_bool(get_key(e, "primary"))]
    for candidate in (
        [e for e in primaries if _is_work(e)],
        primaries,
        [e for e in values if _is_work(e)],
    ):
        if candidate:
            return _text(get_key(candidate[0], "value"))
    return None


def _email_values(resource: dict[str, Any]) -> list[dict[str, Any]]:
    emails = multi_valued(get_attribute(resource, "emails", USER_SCHEMA))
    return [e for e in emails if _text(get_key(e, "value"))]


def _is_work(email: dict[str, Any]) -> bool:
    return str(get_key(email, "type") or "").strip().lower() == "work"


def log_unknown_attributes(resource: dict[str, Any], schema: str) -> None:
    """Log, once per attribute name, keys that `schema` does not define.

    Extension data under a schema URN key is expected and not logged.
    """
    known = KNOWN_ATTRIBUTES[schema]
    for key in resource:
        if not isinstance(key, str) or key.lower().startswith("urn:"):
            continue
        if key.lower() in known:
            continue
        with _logged_lock:
            marker = (schema, key.lower())
            if marker in _logged_unknown or len(_logged_unknown) >= UNKNOWN_LOG_LIMIT:
                continue
            _logged_unknown.add(marker)
        logger.info("Ignoring attribute %r, which %s does not define.", key, schema)


@dataclass(frozen=True)
class AccountFields:
    """The attributes of a SCIM User that the Accounts and Access tabs show."""

    scim_id: str
    user_name: str
    display_name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    active: bool | None
    external_id: str | None


def account_fields(resource: dict[str, Any]) -> AccountFields:
    """Read a SCIM User; the caller has checked that it has an id."""
    log_unknown_attributes(resource, USER_SCHEMA)
    name = get_attribute(resource, "name", USER_SCHEMA)
    if not isinstance(name, dict):
        name = {}
    scim_id = resource_id(resource) or ""
    return AccountFields(
        scim_id=scim_id,
        user_name=_text(get_attribute(resource, "userName", USER_SCHEMA)) or scim_id,
        display_name=_text(get_attribute(resource, "displayName", USER_SCHEMA))
        or _text(get_key(name, "formatted")),
        given_name=_text(get_key(name, "givenName")),
        family_name=_text(get_key(name, "familyName")),
        email=primary_email(resource),
        active=parse_bool(get_attribute(resource, "active", USER_SCHEMA)),
        external_id=_text(get_key(resource, "externalId")),
    )


@dataclass(frozen=True)
class GroupFields:
    """The attributes of a SCIM Group that the Groups and Folders tabs show."""

    scim_id: str
    display_name: str
    external_id: str | None
    member_ids: list[str]


def group_fields(resource: dict[str, Any]) -> GroupFields:
    """Read a SCIM Group; the caller has checked that it has an id."""
    log_unknown_attributes(resource, GROUP_SCHEMA)
    scim_id = resource_id(resource) or ""
    members = multi_valued(get_attribute(resource, "members", GROUP_SCHEMA))
    return GroupFields(
        scim_id=scim_id,
        display_name=_text(get_attribute(resource, "displayName", GROUP_SCHEMA))
        or scim_id,
        external_id=_text(get_key(resource, "externalId")),
        member_ids=[
            member_id
            for member in members
            if (member_id := _text(get_key(member, "value"))) is not None
        ],
    )


def user_payload(
    *,
    email: str,
    given_name: str | None,
    family_name: str | None,
    display_name: str,
    active: bool,
    external_id: str,
) -> dict[str, Any]:
    """Build the body of a SCIM User creation request (RFC 7643 4.1)."""
    name = None
    if given_name or family_name:
        name = Name(given_name=given_name, family_name=family_name)
    user: ScimUser[Any] = ScimUser(
        user_name=email,
        name=name,
        display_name=display_name,
        emails=[Email(value=email, type="work", primary=True)],
        active=active,
        external_id=external_id,
    )
    payload: dict[str, Any] = user.model_dump(
        scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    return payload


def add_members_patch(member_ids: list[str]) -> dict[str, Any]:
    """Build a PATCH request adding members to a group (RFC 7644 3.5.2.1)."""
    operation = PatchOperation[ScimGroup](
        op=PatchOperation.Op.add,
        path="members",
        value=[{"value": member_id} for member_id in member_ids],
    )
    return _patch_request([operation])


def remove_members_patch(member_ids: list[str]) -> dict[str, Any]:
    """Build a PATCH request removing members from a group (RFC 7644 3.5.2.2).

    Each member gets its own operation with a `members[value eq "..."]` path,
    because some targets reject a `remove` that carries a value array.
    """
    operations = [
        PatchOperation[ScimGroup](
            op=PatchOperation.Op.remove,
            path=f'members[value eq "{filter_literal(member_id)}"]',
        )
        for member_id in member_ids
    ]
    return _patch_request(operations)


def _patch_request(operations: list[PatchOperation[ScimGroup]]) -> dict[str, Any]:
    request = PatchOp[ScimGroup](operations=operations)
    payload: dict[str, Any] = request.model_dump(
        scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
    return payload


def filter_literal(value: str) -> str:
    """Escape a value for a quoted string of a SCIM filter (RFC 7644 3.4.2.2)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def group_replacement(
    resource: dict[str, Any], member_ids: list[str]
) -> dict[str, Any]:
    """Build the body of a PUT that gives a group exactly `member_ids`.

    Starts from the resource as the target returned it, so attributes this
    product does not manage survive the replacement (RFC 7644 3.5.1). `meta` is
    read-only, so it is left out.
    """
    payload = {
        key: value
        for key, value in resource.items()
        if key.lower() not in ("meta", "members")
    }
    payload["members"] = [{"value": member_id} for member_id in member_ids]
    return payload
