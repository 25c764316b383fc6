"""Shaping the resources we send so that strict targets accept them.

Lenient targets take anything, but strict ones reject string booleans,
canonical values in another case, two primary values, read-only attributes
and attributes their schema does not declare.
"""

from __future__ import annotations

import logging
from typing import Any

from domain.scim.payloads import get_key, parse_bool
from domain.scim.target_schema import AttributeDefinition, TargetSchema

logger = logging.getLogger(__name__)

#: Boolean attributes of the core schemas, used when the target published no
#: schema to say which attributes are boolean.
BOOLEAN_ATTRIBUTES = frozenset({"active", "primary"})

#: Attributes sent even when declared read-only, because targets expect them
#: in a PUT body.
ALWAYS_SENT = frozenset({"schemas", "id"})


def prepare_resource(
    resource: dict[str, Any], schema_urn: str, schema: TargetSchema
) -> dict[str, Any]:
    """Return a copy of `resource` fit for a POST or PUT to a strict target.

    - Core attributes given under the schema URN move to their short names.
    - `meta`, read-only attributes and attributes the target does not declare
      are left out.
    - Booleans become JSON booleans.
    - Canonical values take the case the target declares, else lowercase.
    - A multi-valued attribute keeps at most one primary value, emails exactly
      one.
    - Extension data under other URN keys is sent as it is.
    """
    prepared: dict[str, Any] = {}
    for key, value in unqualified(resource, schema_urn).items():
        lowered = key.lower()
        if lowered == "meta":
            continue
        if lowered.startswith("urn:"):
            prepared[key] = value
            continue
        if not schema.declares(schema_urn, key):
            logger.info("Leaving out %r, which the target's %s lacks.", key, schema_urn)
            continue
        definition = schema.definition(schema_urn, key)
        read_only = definition is not None and definition.mutability == "readonly"
        if read_only and lowered not in ALWAYS_SENT:
            continue
        name = definition.name if definition is not None else key
        prepared[name] = _shape(name, value, definition)
    return prepared


def unqualified(resource: dict[str, Any], schema_urn: str) -> dict[str, Any]:
    """Move `<urn>:<name>` keys and an object under `<urn>` to plain names."""
    flat: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    prefix = f"{schema_urn.lower()}:"
    for key, value in resource.items():
        lowered = key.lower()
        if lowered == schema_urn.lower() and isinstance(value, dict):
            nested.update(value)
        elif lowered.startswith(prefix):
            nested.setdefault(key[len(prefix) :], value)
        else:
            flat[key] = value
    present = {key.lower() for key in flat}
    for key, value in nested.items():
        if key.lower() not in present:
            flat[key] = value
    return flat


def _shape(name: str, value: Any, definition: AttributeDefinition | None) -> Any:
    if isinstance(value, list):
        items = [
            _shape_complex(item, definition) if isinstance(item, dict) else item
            for item in value
        ]
        return _one_primary(items, required=_needs_primary(name, definition))
    if isinstance(value, dict):
        return _shape_complex(value, definition)
    return _shape_simple(name, value, definition)


def _needs_primary(name: str, definition: AttributeDefinition | None) -> bool:
    """Return whether emails need a primary, unless the target lacks `primary`."""
    if name.lower() != "emails":
        return False
    subs = definition.sub_attributes if definition is not None else {}
    return not subs or "primary" in subs


def _shape_complex(
    value: dict[str, Any], definition: AttributeDefinition | None
) -> dict[str, Any]:
    subs = definition.sub_attributes if definition is not None else {}
    shaped = {}
    for key, item in value.items():
        sub = subs.get(key.lower())
        if subs and sub is None:
            continue
        shaped[sub.name if sub else key] = _shape_simple(key, item, sub)
    return shaped


def _shape_simple(name: str, value: Any, definition: AttributeDefinition | None) -> Any:
    is_boolean = (
        definition.type == "boolean"
        if definition is not None and definition.type
        else name.lower() in BOOLEAN_ATTRIBUTES
    )
    if is_boolean:
        parsed = parse_bool(value)
        return value if parsed is None else parsed
    if isinstance(value, str) and name.lower() == "type":
        return _canonical(value, definition)
    if (
        isinstance(value, str)
        and definition is not None
        and definition.canonical_values
    ):
        return _canonical(value, definition)
    return value


def _canonical(value: str, definition: AttributeDefinition | None) -> str:
    """Return the target's spelling of a canonical value, else its lowercase."""
    declared = definition.canonical_values if definition is not None else ()
    for canonical in declared:
        if canonical.lower() == value.strip().lower():
            return canonical
    return value.strip().lower()


def _one_primary(items: list[Any], *, required: bool) -> list[Any]:
    """Keep one primary item: the first work one, else the first; set it if required."""
    candidates = [
        index
        for index, item in enumerate(items)
        if isinstance(item, dict) and parse_bool(get_key(item, "primary"))
    ]
    if not candidates and required:
        candidates = [i for i, item in enumerate(items) if isinstance(item, dict)]
    if not candidates:
        return items
    work = [i for i in candidates if _is_work(items[i])]
    chosen = (work or candidates)[0]

    shaped = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and (index == chosen or index in candidates):
            item = {k: v for k, v in item.items() if k.lower() != "primary"}
            item["primary"] = index == chosen
        shaped.append(item)
    return shaped


def _is_work(item: dict[str, Any]) -> bool:
    return str(get_key(item, "type") or "").strip().lower() == "work"
