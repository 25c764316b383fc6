"""The ResourceTypes a target published (RFC 7643 6), as mappings use them.

A ResourceType names the endpoint of one kind of resource, its core schema
URN and the extension schemas it takes, each with a `required` flag. The User
type is the one whose core schema is `USER_SCHEMA`, the Group type the one
whose core schema is `GROUP_SCHEMA`. A type that is missing or malformed is
left out, and `problems` gives the reason, so callers can fall back to
guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA, get_key, parse_bool

#: The endpoint SmartLink sends each core schema's requests to.
EXPECTED_ENDPOINTS = {USER_SCHEMA: "/Users", GROUP_SCHEMA: "/Groups"}


@dataclass(frozen=True)
class SchemaExtension:
    """An extension schema that a resource type takes."""

    urn: str
    #: Whether every resource of the type must carry this extension.
    required: bool


@dataclass(frozen=True)
class ResourceType:
    name: str
    #: The path under the base URL, such as "/Users".
    endpoint: str
    #: The core schema URN, spelled as the target published it.
    schema: str
    extensions: tuple[SchemaExtension, ...]

    def extension(self, urn: str) -> SchemaExtension | None:
        """Return the extension with URN `urn`, compared case-insensitively."""
        for extension in self.extensions:
            if extension.urn.lower() == urn.lower():
                return extension
        return None


@dataclass(frozen=True)
class ResourceTypes:
    """The User and Group types of one target, each None without a usable one."""

    user: ResourceType | None = None
    group: ResourceType | None = None
    #: Why a type is None, or what else the documents got wrong, one sentence each.
    problems: tuple[str, ...] = ()

    @classmethod
    def from_documents(cls, published: Any) -> ResourceTypes:
        """Read a /ResourceTypes list response, or the list of its Resources.

        Documents that are not objects, and types of other core schemas, are
        skipped. A User or Group type without a string `endpoint`, or with a
        `schemaExtensions` that is not a list of `{schema, required}` objects,
        counts as missing.
        """
        documents = (
            get_key(published, "Resources")
            if isinstance(published, dict)
            else published
        )
        if published is None or documents == []:
            return cls(None, None, ("The target published no /ResourceTypes.",))
        if not isinstance(documents, list):
            problem = "The target's /ResourceTypes response has no list of Resources."
            return cls(None, None, (problem,))

        found: dict[str, ResourceType] = {}
        unusable: set[str] = set()
        problems: list[str] = []
        for document in documents:
            schema = get_key(document, "schema")
            if not isinstance(schema, str) or schema.lower() not in _CORE:
                continue
            core = _CORE[schema.lower()]
            if core in found:
                problems.append(
                    f"The target published two ResourceTypes for {core}, so "
                    "SmartLink uses the first."
                )
                continue
            parsed = _resource_type(document, schema)
            if isinstance(parsed, str):
                unusable.add(core)
                problems.append(parsed)
            else:
                found[core] = parsed

        for core, resource_type in found.items():
            expected = EXPECTED_ENDPOINTS[core]
            if _last_segment(resource_type.endpoint) != expected.strip("/").lower():
                problems.append(
                    f"The target's ResourceType {resource_type.name!r} is served at "
                    f"{resource_type.endpoint}, but SmartLink sends its requests to "
                    f"{expected}; ask the application's vendor whether {expected} "
                    "serves it too."
                )
        for core in (USER_SCHEMA, GROUP_SCHEMA):
            if core not in found and core not in unusable:
                problems.append(
                    f"The target's /ResourceTypes has no type with schema {core}."
                )
        return cls(found.get(USER_SCHEMA), found.get(GROUP_SCHEMA), tuple(problems))


_CORE = {USER_SCHEMA.lower(): USER_SCHEMA, GROUP_SCHEMA.lower(): GROUP_SCHEMA}


def _resource_type(document: dict[str, Any], schema: str) -> ResourceType | str:
    """Return the parsed type, or why it cannot be used."""
    name = get_key(document, "name") or get_key(document, "id")
    label = name if isinstance(name, str) and name else schema
    endpoint = get_key(document, "endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip():
        return f"The target's ResourceType {label!r} for {schema} has no endpoint."

    listed = get_key(document, "schemaExtensions")
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        return (
            f"The schemaExtensions of the target's ResourceType {label!r} for "
            f"{schema} is not a list."
        )
    extensions: list[SchemaExtension] = []
    for item in listed:
        urn = get_key(item, "schema")
        if not isinstance(urn, str) or not urn.strip():
            return (
                f"An entry of the schemaExtensions of the target's ResourceType "
                f"{label!r} for {schema} has no schema URN."
            )
        if any(e.urn.lower() == urn.strip().lower() for e in extensions):
            continue
        required = parse_bool(get_key(item, "required")) is True
        extensions.append(SchemaExtension(urn.strip(), required))
    return ResourceType(label, endpoint.strip(), schema, tuple(extensions))


def _last_segment(endpoint: str) -> str:
    """Return the endpoint's last path segment in lowercase.

    RFC 7643 6 specifies a path relative to the base URL, such as "/Users",
    but some targets publish "Users" or an absolute URL.
    """
    return endpoint.strip().rstrip("/").rsplit("/", 1)[-1].lower()
