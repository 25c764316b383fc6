"""The schema a mapping is checked against: the target's, or RFC 7643's.

A target that published no /Schemas is checked against the RFC 7643 core
schemas and the enterprise User extension, and a notice informs the admin.
A target that published some schemas but not its core User or Group schema
gets the RFC's definition of that one only.

The target's ResourceTypes list the extension schemas that users and groups
take, and which of them are required. Without a usable ResourceType for a
kind, the extensions are guessed from their URN, and the notice states this.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from domain.mapping.entries import MappingKind
from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA, get_key
from domain.scim.reference_schemas import reference_documents
from domain.scim.resource_types import ResourceType, ResourceTypes
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
    #: Set when some schemas are RFC 7643's because the target lacks them, or
    #: when its ResourceTypes do not list the extensions users and groups take.
    notice: str | None
    resource_types: ResourceTypes = field(default_factory=ResourceTypes)
    #: Whether `documents` are all RFC 7643's, because the target published none.
    reference_only: bool = False

    @classmethod
    def from_target(
        cls, published: list[Any] | None, resource_types: Any = None
    ) -> MappingSchema:
        """Read the target's /Schemas resources and its /ResourceTypes.

        `resource_types` may be the list response or its Resources.
        """
        types = ResourceTypes.from_documents(resource_types)
        documents = [d for d in published or [] if isinstance(d, dict)]
        urns = {str(get_key(d, "id")).lower() for d in documents}
        reference = reference_documents()
        if not documents:
            schema = TargetSchema.from_documents(list(reference))
            checked = cls(schema, reference, NO_SCHEMAS_NOTICE, types, True)
            return checked._with_type_notice()

        missing = [d for d in reference if d["id"].lower() in _core_urns() - urns]
        notice = None
        if missing:
            names = " and ".join(d["id"] for d in missing)
            notice = (
                f"The target's /Schemas lacks {names}, so RFC 7643's definition "
                "is used for it."
            )
        merged = tuple(documents + missing)
        schema = TargetSchema.from_documents(list(merged))
        return cls(schema, merged, notice, types)._with_type_notice()

    def _with_type_notice(self) -> MappingSchema:
        """Return a copy whose notice also names what the ResourceTypes lack."""
        sentences = [self.notice] if self.notice else []
        sentences.extend(self.resource_types.problems)
        guessed = [
            kind.value.lower()
            for kind in MappingKind
            if self.resource_type(kind) is None
        ]
        if guessed:
            sentences.append(
                f"So for {' and '.join(guessed)} mappings, extension schemas whose "
                "URN ends in Group are taken for groups and the others for users."
            )
        for kind in MappingKind:
            sentences.extend(self._undocumented_extensions(kind))
        return replace(self, notice=" ".join(sentences) or None)

    def _undocumented_extensions(self, kind: MappingKind) -> list[str]:
        """Return a sentence for each extension of `kind` that no schema defines."""
        resource_type = self.resource_type(kind)
        if resource_type is None:
            return []
        return [
            f"The target's ResourceType {resource_type.name!r} takes extension "
            f"{extension.urn}, but its /Schemas has no document for it, so none "
            "of its attributes can be mapped."
            for extension in resource_type.extensions
            if not self.schema.knows(extension.urn)
        ]

    def resource_type(self, kind: MappingKind) -> ResourceType | None:
        """Return the target's ResourceType for `kind`, if it published one."""
        if kind is MappingKind.USER:
            return self.resource_types.user
        return self.resource_types.group

    def schema_urns(self, kind: MappingKind) -> list[str]:
        """Return the core schema of `kind` and the extensions it may use.

        The extensions are those the target's ResourceType lists. Without a
        usable ResourceType, they are guessed from the URN's last part. A
        target without /Schemas is also offered the RFC 7643 extensions.
        """
        resource_type = self.resource_type(kind)
        if resource_type is None:
            return [kind.core_urn, *self._guessed_extensions(kind)]

        urns = [kind.core_urn]
        for extension in resource_type.extensions:
            if extension.urn.lower() not in _core_urns():
                urns.append(extension.urn)
        if self.reference_only:
            listed = {urn.lower() for urn in urns}
            urns.extend(
                urn
                for urn in self._guessed_extensions(kind)
                if urn.lower() not in listed
            )
        return urns

    def required_extensions(self, kind: MappingKind) -> list[str]:
        """Return the extensions every resource of `kind` must carry.

        An extension without a schema document is left out, because none of
        its attributes can be mapped.
        """
        resource_type = self.resource_type(kind)
        if resource_type is None:
            return []
        return [
            e.urn
            for e in resource_type.extensions
            if e.required and self.schema.knows(e.urn)
        ]

    def _guessed_extensions(self, kind: MappingKind) -> list[str]:
        other = GROUP_SCHEMA if kind is MappingKind.USER else USER_SCHEMA
        urns = []
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
    """Guess whether an extension schema belongs to users or to groups.

    Schema ids conventionally end with the resource type they extend, such
    as `...:enterprise:2.0:User`; others are offered to users. Only targets
    without a usable ResourceType get this guess.
    """
    last = urn.rsplit(":", 1)[-1].lower()
    if kind is MappingKind.GROUP:
        return last == "group"
    return last != "group"
