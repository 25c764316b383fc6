"""The schema a mapping is checked against: the target's, or RFC 7643's.

A target that published no /Schemas is checked against the RFC 7643 core
schemas and the enterprise User extension, and a notice informs the admin.
A target that published some schemas but not its core User or Group schema
gets the RFC's definition of that one only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.mapping.entries import MappingKind
from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA, get_key
from domain.scim.reference_schemas import reference_documents
from domain.scim.target_schema import AttributeDefinition, TargetSchema

#: Attributes of every resource (RFC 7643 3.1) that schemas rarely list.
COMMON_DEFINITIONS = {
    "id": AttributeDefinition(
        name="id",
        type="string",
        mutability="readonly",
        canonical_values=(),
        multi_valued=False,
        description="The target's identifier of the resource.",
    ),
    "externalid": AttributeDefinition(
        name="externalId",
        type="string",
        mutability="readwrite",
        canonical_values=(),
        multi_valued=False,
        description="The provisioning client's identifier of the resource.",
    ),
}


NO_SCHEMAS_NOTICE = (
    "The target published no /Schemas, so mappings are checked against the RFC "
    "7643 core User and Group schemas and the enterprise User extension. Check "
    "the target's documentation for what it accepts."
)


@dataclass(frozen=True)
class ListedAttribute:
    """An attribute or sub-attribute that a mapping entry may name."""

    path: str
    schema_urn: str
    definition: AttributeDefinition


@dataclass(frozen=True)
class MappingSchema:
    """Schemas to check mappings against, with where they came from."""

    schema: TargetSchema
    #: Schema documents in order, for listing attributes.
    documents: tuple[dict[str, Any], ...]
    #: Set when some schemas are RFC 7643's because the target lacks them.
    notice: str | None

    @classmethod
    def from_target(cls, published: list[Any] | None) -> MappingSchema:
        documents = [d for d in published or [] if isinstance(d, dict)]
        urns = {str(get_key(d, "id")).lower() for d in documents}
        reference = reference_documents()
        if not documents:
            schema = TargetSchema.from_documents(list(reference))
            return cls(schema, reference, NO_SCHEMAS_NOTICE)

        missing = [d for d in reference if d["id"].lower() in _core_urns() - urns]
        notice = None
        if missing:
            names = " and ".join(d["id"] for d in missing)
            notice = (
                f"The target's /Schemas lacks {names}, so RFC 7643's definition "
                "is used for it."
            )
        merged = tuple(documents + missing)
        return cls(TargetSchema.from_documents(list(merged)), merged, notice)

    def schema_urns(self, kind: MappingKind) -> list[str]:
        """Return the core schema of `kind` and the extensions it may use."""
        other = GROUP_SCHEMA if kind is MappingKind.USER else USER_SCHEMA
        urns = [kind.core_urn]
        for document in self.documents:
            urn = get_key(document, "id")
            if not isinstance(urn, str):
                continue
            if urn.lower() in (kind.core_urn.lower(), other.lower()):
                continue
            if _extends(urn, kind):
                urns.append(urn)
        return urns

    def listed_attributes(self, kind: MappingKind) -> list[ListedAttribute]:
        """Return the attributes of `kind`'s schemas, each followed by its subs.

        Core attributes go by name, extension ones under their schema's URN,
        and `externalId` comes first, because every resource has it.
        """
        listed = [
            ListedAttribute(
                "externalId", kind.core_urn, COMMON_DEFINITIONS["externalid"]
            )
        ]
        for urn in self.schema_urns(kind):
            core = urn.lower() == kind.core_urn.lower()
            for attribute in self.schema.attributes(urn):
                path = attribute.name if core else f"{urn}:{attribute.name}"
                listed.append(ListedAttribute(path, urn, attribute))
                listed.extend(
                    ListedAttribute(f"{path}.{sub.name}", urn, sub)
                    for sub in attribute.sub_attributes.values()
                )
        return listed

    def definition(self, urn: str, path: str) -> AttributeDefinition | None:
        """Return the definition of `path` in schema `urn`, common ones included."""
        if urn.lower() in _core_urns() and "." not in path:
            common = COMMON_DEFINITIONS.get(path.lower())
            if common is not None:
                return common
        return self.schema.definition(urn, path)


def _core_urns() -> set[str]:
    return {USER_SCHEMA.lower(), GROUP_SCHEMA.lower()}


def _extends(urn: str, kind: MappingKind) -> bool:
    """Return whether an extension schema belongs to users or to groups.

    Schema ids conventionally end with the resource type they extend, such
    as `...:enterprise:2.0:User`; others are offered to users.
    """
    last = urn.rsplit(":", 1)[-1].lower()
    if kind is MappingKind.GROUP:
        return last == "group"
    return last != "group"
