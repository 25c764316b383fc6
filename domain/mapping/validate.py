"""Checking a mapping against the schema the target published.

Each problem names the attribute, the schema it was looked up in and the fix:
the path must exist, the value's type must fit the attribute's, read-only
attributes cannot be written, and required attributes must be mapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import ErrorCode
from domain.mapping.entries import Mapping, MappingEntry, MappingKind, SourceKind
from domain.mapping.schema import MappingSchema
from domain.mapping.templates import placeholders
from domain.scim.paths import AttributePath
from domain.scim.target_schema import AttributeDefinition

#: Attribute types a string value fits; the target checks the string's form.
STRING_TYPES = frozenset({"string", "reference", "binary", "datetime"})

#: Attributes that no mapping sets: the target or the protocol does.
UNMAPPED = frozenset({"id", "schemas", "meta"})


@dataclass(frozen=True)
class MappingProblem:
    """A reason that one entry, or the whole mapping, cannot build valid resources."""

    message: str
    code: ErrorCode
    #: The attribute path at fault, as written in the mapping.
    path: str
    schema_urn: str
    #: The entry's position in the mapping; None for a missing required one.
    index: int | None = None
    #: The part of the entry at fault: its "path" or its "value".
    part: str = "path"


def mapping_problems(mapping: Mapping, schema: MappingSchema) -> list[MappingProblem]:
    """Return every problem of `mapping` against `schema`, entries in order."""
    problems = []
    seen: set[str] = set()
    for index, entry in enumerate(mapping.entries):
        key = str(entry.path).lower()
        urn = entry.path.schema_urn or mapping.kind.core_urn
        if key in seen:
            problems.append(
                MappingProblem(
                    f"Attribute {str(entry.path)!r} of schema {urn} is mapped twice; "
                    "remove one of the entries.",
                    ErrorCode.ALREADY_EXISTS,
                    str(entry.path),
                    urn,
                    index,
                )
            )
            continue
        seen.add(key)
        problem = entry_problem(entry, mapping.kind, schema)
        if problem is not None:
            problems.append(_at(problem, index))
    problems.extend(_missing_required(mapping, schema))
    return problems


def _at(problem: MappingProblem, index: int) -> MappingProblem:
    return MappingProblem(
        problem.message,
        problem.code,
        problem.path,
        problem.schema_urn,
        index,
        problem.part,
    )


def entry_problem(
    entry: MappingEntry, kind: MappingKind, schema: MappingSchema
) -> MappingProblem | None:
    """Return the first problem of one entry, or None when it fits the schema."""
    path = entry.path
    urn = path.schema_urn or kind.core_urn

    def problem(message: str, code: ErrorCode = ErrorCode.INVALID) -> MappingProblem:
        return MappingProblem(message, code, str(path), urn)

    if path.schema_urn is not None and path.schema_urn.lower() not in {
        u.lower() for u in schema.schema_urns(kind)
    }:
        known = ", ".join(schema.schema_urns(kind))
        return problem(
            f"Schema {urn} of attribute {str(path)!r} is not among the "
            f"{kind.value.lower()} schemas the target published ({known}); use one "
            "of those URNs, or remove the entry.",
            ErrorCode.NOT_FOUND,
        )

    if path.attribute.lower() in UNMAPPED:
        return problem(
            f"Attribute {path.attribute!r} of schema {urn} is set by the target "
            "itself, so no mapping can write it; remove the entry."
        )
    attribute = schema.definition(urn, path.attribute)
    if attribute is None:
        return problem(
            f"Attribute {path.attribute!r} is not in schema {urn}; pick an "
            "attribute that Provisioning.schema lists, or remove the entry.",
            ErrorCode.NOT_FOUND,
        )
    if kind is MappingKind.GROUP and path.attribute.lower() == "members":
        return problem(
            f"Attribute 'members' of schema {urn} lists the accounts of the "
            "folder's members, which SmartLink keeps in step itself; remove the "
            "entry."
        )
    if attribute.mutability == "readonly":
        return _read_only(path, urn)
    shape = _shape_problem(path, attribute, urn)
    if shape is not None:
        return problem(shape)

    target = attribute
    if path.sub_attribute is not None:
        found = schema.definition(urn, path.attribute_path)
        if found is None:
            return problem(
                f"Attribute {path.attribute!r} of schema {urn} has no sub-attribute "
                f"{path.sub_attribute!r}; pick one of "
                f"{_names(attribute.sub_attributes)}.",
                ErrorCode.NOT_FOUND,
            )
        target = found

    if target.mutability == "readonly":
        return _read_only(path, urn)
    return _type_problem(entry, kind, target, urn)


def _read_only(path: AttributePath, urn: str) -> MappingProblem:
    return MappingProblem(
        f"Attribute {path.attribute_path!r} of schema {urn} is read-only, so the "
        "target sets it itself; remove the entry.",
        ErrorCode.INVALID,
        str(path),
        urn,
    )


def _shape_problem(
    path: AttributePath, attribute: AttributeDefinition, urn: str
) -> str | None:
    """Return why the path's form does not suit the attribute, if it does not."""
    complex_type = attribute.type == "complex" or bool(attribute.sub_attributes)
    name = path.attribute
    if path.value_filter is not None:
        if not attribute.multi_valued:
            return (
                f"Attribute {name!r} of schema {urn} holds one value, so it takes no "
                f"filter; write {name}.{path.sub_attribute}."
            )
        sub, _value = path.value_filter
        if attribute.sub_attributes and sub.lower() not in attribute.sub_attributes:
            return (
                f"Attribute {name!r} of schema {urn} has no sub-attribute {sub!r} "
                f"to filter on; pick one of {_names(attribute.sub_attributes)}."
            )
        return None
    if path.sub_attribute is not None and attribute.multi_valued:
        return (
            f"Attribute {name!r} of schema {urn} is multi-valued; choose the value "
            f'with a filter, such as {name}[type eq "work"].{path.sub_attribute}.'
        )
    if path.sub_attribute is None and complex_type:
        subs = _names(attribute.sub_attributes) or "its sub-attributes"
        return (
            f"Attribute {name!r} of schema {urn} is complex; map its sub-attributes "
            f"({subs}) one by one, such as {name}.value."
        )
    if path.sub_attribute is not None and not complex_type:
        return (
            f"Attribute {name!r} of schema {urn} is not complex, so it has no "
            f"sub-attribute {path.sub_attribute!r}; write {name}."
        )
    return None


def _type_problem(
    entry: MappingEntry,
    kind: MappingKind,
    target: AttributeDefinition,
    urn: str,
) -> MappingProblem | None:
    path = str(entry.path)

    def problem(message: str) -> MappingProblem:
        return MappingProblem(message, ErrorCode.INVALID, path, urn, part="value")

    if entry.source is SourceKind.FIELD and entry.value not in kind.fields:
        return problem(
            f"Field {entry.value!r} mapped to {path!r} is not a SmartLink "
            f"{_noun(kind)} field; use one of {', '.join(kind.fields)}."
        )
    if entry.source is SourceKind.TEMPLATE:
        unknown = [n for n in placeholders(entry.value) if n not in kind.fields]
        if unknown:
            noun = "field" if len(unknown) == 1 else "fields"
            return problem(
                f"Template {entry.value!r} for {path!r} uses unknown {noun} "
                f"{', '.join(unknown)}; the valid fields are "
                f"{', '.join(kind.fields)}."
            )

    value_type = _value_type(entry, kind)
    if target.type is None or _fits(value_type, target.type):
        return None
    return problem(
        f"Attribute {entry.path.attribute_path!r} of schema {urn} is of type "
        f"{target.type}, but {_describe(entry)} gives a {value_type}; map a "
        f"{_noun(kind)} field or a constant of type {target.type}."
    )


def _value_type(entry: MappingEntry, kind: MappingKind) -> str:
    if entry.source is SourceKind.FIELD:
        return kind.fields[entry.value]
    if entry.source is SourceKind.TEMPLATE:
        return "string"
    return constant_type(entry.value)


def constant_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    return "string"


def _fits(value_type: str, attribute_type: str) -> bool:
    if attribute_type in STRING_TYPES:
        return value_type == "string"
    if attribute_type == "decimal":
        return value_type in ("decimal", "integer")
    return value_type == attribute_type


def _describe(entry: MappingEntry) -> str:
    if entry.source is SourceKind.FIELD:
        return f"field {entry.value!r}"
    if entry.source is SourceKind.TEMPLATE:
        return f"template {entry.value!r}"
    return f"constant {entry.value!r}"


def _noun(kind: MappingKind) -> str:
    return "user" if kind is MappingKind.USER else "folder"


def _names(definitions: dict[str, AttributeDefinition]) -> str:
    return ", ".join(d.name for d in definitions.values())


def _missing_required(mapping: Mapping, schema: MappingSchema) -> list[MappingProblem]:
    """Return a problem for each required attribute or extension that no entry maps.

    The core schema's required attributes always count. An extension's count
    once the mapping writes to that extension, or always when the target's
    ResourceType marks the extension required (RFC 7643 6). A required
    extension that has no required attribute needs at least one entry.
    """
    kind = mapping.kind
    mapped = {
        ((e.path.schema_urn or kind.core_urn).lower(), e.path.attribute.lower())
        for e in mapping.entries
    }
    used = {urn for urn, _name in mapped}
    required = {urn.lower() for urn in schema.required_extensions(kind)}
    problems = []
    for urn in schema.schema_urns(kind):
        core = urn.lower() == kind.core_urn.lower()
        if not core and urn.lower() not in used | required:
            continue
        missing = _missing_attributes(urn, core, mapped, schema)
        problems.extend(missing)
        if urn.lower() in required and urn.lower() not in used and not missing:
            extension = _missing_extension(urn, kind, schema)
            if extension is not None:
                problems.append(extension)
    return problems


def _missing_attributes(
    urn: str, core: bool, mapped: set[tuple[str, str]], schema: MappingSchema
) -> list[MappingProblem]:
    problems = []
    for attribute in schema.schema.attributes(urn):
        if not attribute.required or attribute.name.lower() in UNMAPPED:
            continue
        if attribute.mutability == "readonly":
            continue
        if (urn.lower(), attribute.name.lower()) in mapped:
            continue
        path = attribute.name if core else f"{urn}:{attribute.name}"
        problems.append(
            MappingProblem(
                f"Attribute {attribute.name!r} of schema {urn} is required, but "
                f"no entry maps it; add an entry for {path}.",
                ErrorCode.REQUIRED,
                path,
                urn,
            )
        )
    return problems


def _missing_extension(
    urn: str, kind: MappingKind, schema: MappingSchema
) -> MappingProblem | None:
    """Return the problem of a required extension that no entry writes to.

    None when the extension has no writable attribute, because no mapping
    could fix that.
    """
    writable = [
        a.name for a in schema.schema.attributes(urn) if a.mutability != "readonly"
    ]
    if not writable:
        return None
    resource_type = schema.resource_type(kind)
    name = resource_type.name if resource_type is not None else kind.value
    return MappingProblem(
        f"The target's ResourceType {name!r} requires extension {urn}, but no "
        f"entry maps an attribute of it; add an entry for one of its attributes "
        f"({', '.join(writable)}), such as {urn}:{writable[0]}.",
        ErrorCode.REQUIRED,
        urn,
        urn,
    )
