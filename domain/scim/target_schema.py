"""The attributes a target declares, read from the Schemas it published.

Only schemas the target published are enforced: a target with no /Schemas, or
none for a resource's schema, is taken to accept every attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.scim.payloads import get_key, parse_bool

#: Attributes of every resource (RFC 7643 3.1), which targets rarely list in
#: their Schemas but always accept.
COMMON_ATTRIBUTES = frozenset({"schemas", "id", "externalid", "meta"})


@dataclass(frozen=True)
class AttributeDefinition:
    name: str
    type: str | None
    mutability: str | None
    canonical_values: tuple[str, ...]
    multi_valued: bool
    #: Sub-attributes by lowercase name; empty when the target lists none.
    sub_attributes: dict[str, AttributeDefinition] = field(default_factory=dict)
    required: bool = False
    description: str | None = None


@dataclass(frozen=True)
class TargetSchema:
    """Attribute definitions by lowercase schema URN, then lowercase name."""

    schemas: dict[str, dict[str, AttributeDefinition]] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, documents: list[Any] | None) -> TargetSchema:
        """Read the Resources of a /Schemas response, skipping malformed ones."""
        schemas: dict[str, dict[str, AttributeDefinition]] = {}
        for document in documents or []:
            urn = get_key(document, "id")
            attributes = get_key(document, "attributes")
            if not isinstance(urn, str) or not isinstance(attributes, list):
                continue
            schemas[urn.lower()] = _definitions(attributes)
        return cls(schemas)

    def attributes(self, urn: str) -> list[AttributeDefinition]:
        """Return the top-level attributes of schema `urn`, in published order."""
        return list(self.schemas.get(urn.lower(), {}).values())

    def knows(self, urn: str) -> bool:
        return urn.lower() in self.schemas

    def definition(self, urn: str, path: str) -> AttributeDefinition | None:
        """Return the definition of `path` (`name` or `name.sub`) in schema `urn`."""
        definitions = self.schemas.get(urn.lower(), {})
        names = path.lower().split(".")
        found = definitions.get(names[0])
        for name in names[1:]:
            if found is None:
                return None
            found = found.sub_attributes.get(name)
        return found

    def declares(self, urn: str, path: str) -> bool:
        """Return whether the target accepts `path` in resources of schema `urn`."""
        top = path.split(".")[0].lower()
        if not self.knows(urn) or top in COMMON_ATTRIBUTES:
            return True
        parent = self.definition(urn, top)
        if parent is None:
            return False
        if "." not in path or not parent.sub_attributes:
            return True
        return self.definition(urn, path) is not None


def _definitions(attributes: list[Any]) -> dict[str, AttributeDefinition]:
    definitions: dict[str, AttributeDefinition] = {}
    for attribute in attributes:
        name = get_key(attribute, "name")
        if not isinstance(name, str) or not name:
            continue
        canonical = get_key(attribute, "canonicalValues")
        subs = get_key(attribute, "subAttributes")
        definitions[name.lower()] = AttributeDefinition(
            name=name,
            type=_lower(get_key(attribute, "type")),
            mutability=_lower(get_key(attribute, "mutability")),
            canonical_values=tuple(
                str(value) for value in canonical if isinstance(value, str)
            )
            if isinstance(canonical, list)
            else (),
            multi_valued=parse_bool(get_key(attribute, "multiValued")) is True,
            sub_attributes=_definitions(subs) if isinstance(subs, list) else {},
            required=parse_bool(get_key(attribute, "required")) is True,
            description=_text(get_key(attribute, "description")),
        )
    return definitions


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None
