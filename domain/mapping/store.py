"""Reading and replacing an application's saved mappings."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.audit import record_audit
from domain.errors import DomainError, DomainErrors, InvalidInput
from domain.mapping.defaults import default_mapping
from domain.mapping.entries import Mapping, MappingEntry, MappingKind, SourceKind
from domain.mapping.schema import MappingSchema
from domain.mapping.templates import placeholders
from domain.mapping.validate import MappingProblem, mapping_problems
from domain.models import AttributeMapping, ScimConnection
from domain.models.columns import utcnow
from domain.scim.paths import parse_path

logger = logging.getLogger(__name__)

#: Entries one mapping may hold at most.
MAX_ENTRIES = 100

#: Characters a constant or a template may have at most.
MAX_VALUE_LENGTH = 1000


@dataclass(frozen=True)
class EntryInput:
    """An entry as the admin wrote it: every value is text."""

    path: str
    source: SourceKind
    value: str


async def get_mapping(
    session: AsyncSession, application_id: uuid.UUID, kind: MappingKind
) -> Mapping:
    """Return the application's mapping of `kind`, or the default one."""
    row = await session.get(AttributeMapping, (application_id, kind.value))
    if row is None:
        return default_mapping(kind)
    return Mapping.from_json(kind, row.entries)


async def get_mappings(
    session: AsyncSession, application_id: uuid.UUID
) -> dict[MappingKind, Mapping]:
    """Return both mappings of the application in one query."""
    statement = select(AttributeMapping).where(
        AttributeMapping.application_id == application_id
    )
    saved = {row.kind: row for row in await session.exec(statement)}
    return {
        kind: Mapping.from_json(kind, saved[kind.value].entries)
        if kind.value in saved
        else default_mapping(kind)
        for kind in MappingKind
    }


def connection_schema(connection: ScimConnection | None) -> MappingSchema:
    """Return the schema mappings are checked against for this connection."""
    if connection is None:
        return MappingSchema.from_target(None, None)
    return MappingSchema.from_target(connection.schemas, connection.resource_types)


async def mapping_problems_of(
    session: AsyncSession, application_id: uuid.UUID, connection: ScimConnection | None
) -> list[MappingProblem]:
    """Return the problems of both mappings against the target's current schema."""
    schema = connection_schema(connection)
    mappings = await get_mappings(session, application_id)
    return [
        problem
        for kind in MappingKind
        for problem in mapping_problems(mappings[kind], schema)
    ]


async def update_attribute_mapping(
    session: AsyncSession,
    application_id: uuid.UUID,
    kind: MappingKind,
    entries: Sequence[EntryInput],
    *,
    token_name: str | None = None,
) -> Mapping:
    """Replace the application's mapping of `kind`, once it fits the schema.

    Raises `DomainErrors` with one error per problem, each naming the entry
    in `field` (`entries`, its index, and `path` or `value`).
    """
    await get_application(session, application_id)
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput(
            f"The mapping has {len(entries)} entries; the maximum is {MAX_ENTRIES}.",
            field=["entries"],
        )
    connection = await session.get(ScimConnection, application_id)
    schema = connection_schema(connection)
    mapping = _parse_entries(kind, entries, schema)
    problems = mapping_problems(mapping, schema)
    if problems:
        raise DomainErrors([problem_error(p) for p in problems])

    row = await session.get(AttributeMapping, (application_id, kind.value))
    before = row.entries if row is not None else default_mapping(kind).to_json()
    if row is None:
        row = AttributeMapping(application_id=application_id, kind=kind.value)
        session.add(row)
    row.entries = mapping.to_json()
    row.updated_at = utcnow()
    record_audit(
        session,
        token_name=token_name,
        action="updateAttributeMapping",
        application_id=application_id,
        objects={"Application": application_id},
        changes={f"{kind.value.lower()}_mapping": {"old": before, "new": row.entries}},
    )
    await session.flush()
    logger.info(
        "Application %s's %s mapping now has %d entries.",
        application_id,
        kind.value,
        len(mapping.entries),
    )
    return mapping


def problem_error(problem: MappingProblem) -> DomainError:
    """Return a problem as the error a mutation lists."""
    field = ["entries"]
    if problem.index is not None:
        field = ["entries", str(problem.index), problem.part]
    return DomainError(problem.message, field=field, code=problem.code)


def _parse_entries(
    kind: MappingKind, entries: Sequence[EntryInput], schema: MappingSchema
) -> Mapping:
    """Parse paths and constants, raising every syntax error at once."""
    parsed = []
    errors: list[DomainError] = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(_parse_entry(kind, entry, schema))
        except InvalidInput as error:
            where = ["entries", str(index), error.field[0] if error.field else "path"]
            errors.append(InvalidInput(error.message, field=where))
    if errors:
        raise DomainErrors(errors)
    return Mapping(kind, tuple(parsed))


def _parse_entry(
    kind: MappingKind, entry: EntryInput, schema: MappingSchema
) -> MappingEntry:
    path = parse_path(entry.path, kind.core_urn)
    text = entry.value if entry.source is SourceKind.TEMPLATE else entry.value.strip()
    if not text.strip():
        raise InvalidInput(
            f"The value of {entry.path!r} is empty; write a field name, a "
            "template or a constant, or remove the entry.",
            field=["value"],
        )
    if len(text) > MAX_VALUE_LENGTH:
        raise InvalidInput(
            f"The value of {entry.path!r} is {len(text)} characters long; the "
            f"maximum is {MAX_VALUE_LENGTH}.",
            field=["value"],
        )
    if entry.source is SourceKind.TEMPLATE:
        try:
            placeholders(text)
        except InvalidInput as error:
            raise InvalidInput(error.message, field=["value"]) from error
    if entry.source is not SourceKind.CONSTANT:
        return MappingEntry(path, entry.source, text)

    urn = path.schema_urn or kind.core_urn
    definition = schema.definition(urn, path.attribute_path)
    value = constant_value(text, definition.type if definition else None)
    return MappingEntry(path, entry.source, value)


def constant_value(text: str, attribute_type: str | None) -> str | bool | int | float:
    """Return a constant as the JSON value of the attribute's type.

    Raises `InvalidInput` naming the text when it is not of that type.
    """
    if attribute_type == "boolean":
        if text.strip().lower() in ("true", "false"):
            return text.strip().lower() == "true"
        raise InvalidInput(
            f"Constant {text!r} is not a boolean; write true or false.",
            field=["value"],
        )
    try:
        if attribute_type == "integer":
            return int(text.strip())
        if attribute_type == "decimal":
            return float(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"Constant {text!r} is not of type {attribute_type}; write a number "
            "such as 42.",
            field=["value"],
        ) from exc
    return text
