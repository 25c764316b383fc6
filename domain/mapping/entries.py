"""The parts of an attribute mapping: its kind, its entries and their sources."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from domain.scim.paths import AttributePath, parse_path
from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA


class MappingKind(enum.Enum):
    """The resource type a mapping builds: a user's account, or a folder's group."""

    USER = "USER"
    GROUP = "GROUP"

    @property
    def core_urn(self) -> str:
        return USER_SCHEMA if self is MappingKind.USER else GROUP_SCHEMA

    @property
    def fields(self) -> dict[str, str]:
        """The SmartLink fields that a mapping of this kind reads, with SCIM types."""
        return USER_FIELDS if self is MappingKind.USER else GROUP_FIELDS


class SourceKind(enum.Enum):
    """The origin of an entry's value."""

    FIELD = "FIELD"
    CONSTANT = "CONSTANT"
    TEMPLATE = "TEMPLATE"


#: SmartLink user fields by GraphQL name, with the SCIM type of their values.
#: `active` is whether the account should be active: the user is active and
#: has access to the application.
USER_FIELDS = {
    "id": "string",
    "email": "string",
    "givenName": "string",
    "familyName": "string",
    "displayName": "string",
    "active": "boolean",
    "title": "string",
    "department": "string",
    "phoneNumber": "string",
    "preferredLanguage": "string",
    "employeeNumber": "string",
}

#: SmartLink folder fields that a group mapping may read.
GROUP_FIELDS = {"id": "string", "name": "string"}


@dataclass(frozen=True)
class MappingEntry:
    """One SCIM attribute and the source of its value.

    `value` is the field name for FIELD, the template text for TEMPLATE, and
    the JSON value (string, number or boolean) for CONSTANT.
    """

    path: AttributePath
    source: SourceKind
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "source": self.source.value,
            "value": self.value,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any], kind: MappingKind) -> MappingEntry:
        return cls(
            path=parse_path(document["path"], kind.core_urn),
            source=SourceKind(document["source"]),
            value=document["value"],
        )


@dataclass(frozen=True)
class Mapping:
    """The ordered entries that build one kind of resource for an application."""

    kind: MappingKind
    entries: tuple[MappingEntry, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [entry.to_json() for entry in self.entries]

    @classmethod
    def from_json(cls, kind: MappingKind, documents: list[Any]) -> Mapping:
        return cls(kind, tuple(MappingEntry.from_json(d, kind) for d in documents))
