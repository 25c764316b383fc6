"""GraphQL types of attribute mappings, the target's attributes and previews."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Self, cast

import strawberry
from strawberry.scalars import JSON

from api.graphql.core.errors import ErrorCode
from domain.mapping.entries import Mapping, MappingEntry, MappingKind, SourceKind
from domain.mapping.preview import AccountPreview as AccountPreviewModel
from domain.mapping.preview import PreviewAction
from domain.mapping.schema import ListedAttribute
from domain.mapping.validate import MappingProblem as MappingProblemModel

if TYPE_CHECKING:
    from api.graphql.provisioning.types import ScimAccount

LazyScimAccount = Annotated[
    "ScimAccount", strawberry.lazy("api.graphql.provisioning.types")
]

MappingKindEnum = strawberry.enum(
    MappingKind,
    name="MappingKind",
    description="USER builds the accounts of users, GROUP the groups of folders.",
)
MappingSourceEnum = strawberry.enum(
    SourceKind,
    name="MappingSource",
    description="FIELD copies a SmartLink field, CONSTANT sends a fixed value, "
    "TEMPLATE fills fields into text such as `{givenName} {familyName}`.",
)
PreviewActionEnum = strawberry.enum(
    PreviewAction,
    name="PreviewAction",
    description="Whether provisioning the user now creates an account, updates "
    "it, or sends nothing.",
)


@strawberry.type(description="One SCIM attribute and where its value comes from.")
class AttributeMappingEntry:
    path: str = strawberry.field(
        description="A SCIM attribute path, such as name.givenName, emails[type eq "
        '"work"].value, or an extension attribute under its full schema URN.'
    )
    source: MappingSourceEnum  # type: ignore[valid-type]
    value: str = strawberry.field(
        description="The field name, the template, or the constant as text."
    )

    @classmethod
    def from_domain(cls, entry: MappingEntry) -> Self:
        return cls(path=str(entry.path), source=entry.source, value=_text(entry.value))


@strawberry.type(description="A mapping problem against the target's schema.")
class MappingProblem:
    kind: MappingKindEnum  # type: ignore[valid-type]
    code: ErrorCode  # type: ignore[valid-type]
    message: str = strawberry.field(
        description="The attribute, the schema it was looked up in, and the fix."
    )
    path: str
    schema_urn: str
    entry_index: int | None = strawberry.field(
        description="The entry at fault; null for a required attribute not mapped."
    )

    @classmethod
    def from_domain(cls, kind: MappingKind, problem: MappingProblemModel) -> Self:
        return cls(
            kind=kind,
            code=problem.code,
            message=problem.message,
            path=problem.path,
            schema_urn=problem.schema_urn,
            entry_index=problem.index,
        )


@strawberry.type(description="The entries that build one kind of resource.")
class ResourceMapping:
    kind: MappingKindEnum  # type: ignore[valid-type]
    entries: list[AttributeMappingEntry]
    problems: list[MappingProblem] = strawberry.field(
        description="Problems against the target's current schema, such as after "
        "a reconnect to a target whose schema changed."
    )

    @classmethod
    def from_domain(cls, mapping: Mapping, problems: list[MappingProblemModel]) -> Self:
        return cls(
            kind=mapping.kind,
            entries=[AttributeMappingEntry.from_domain(e) for e in mapping.entries],
            problems=[MappingProblem.from_domain(mapping.kind, p) for p in problems],
        )


@strawberry.type(description="The application's user and group mappings.")
class AttributeMappings:
    user: ResourceMapping
    group: ResourceMapping
    problems: list[MappingProblem] = strawberry.field(
        description="The problems of both mappings, user mapping first."
    )
    notice: str | None = strawberry.field(
        description="Set when the mappings are checked against RFC 7643's schemas "
        "because the target published none, or not all, or when its "
        "ResourceTypes do not list the extensions users and groups take."
    )


@strawberry.type(description="An attribute the target declares, for mapping pickers.")
class ScimAttribute:
    path: str = strawberry.field(
        description="The path a mapping entry names: `name.givenName`, or an "
        "extension attribute under its schema URN."
    )
    type: str | None = strawberry.field(
        description="string, boolean, decimal, integer, dateTime, reference, "
        "binary or complex; null when the target does not say."
    )
    multi_valued: bool
    required: bool
    mutability: str | None = strawberry.field(
        description="readOnly, readWrite, immutable or writeOnly, as RFC 7643 "
        "spells them; null when the target does not say."
    )
    description: str | None
    schema_urn: str
    canonical_values: list[str]

    @classmethod
    def from_domain(cls, listed: ListedAttribute) -> Self:
        definition = listed.definition
        return cls(
            path=listed.path,
            type=_rfc_spelling(definition.type),
            multi_valued=definition.multi_valued,
            required=definition.required,
            mutability=_rfc_spelling(definition.mutability),
            description=definition.description,
            schema_urn=listed.schema_urn,
            canonical_values=list(definition.canonical_values),
        )


@strawberry.type(description="A SCIM request, shown without being sent.")
class ScimRequestPreview:
    method: str
    path: str = strawberry.field(description="The path under the SCIM base URL.")
    body: JSON

    @classmethod
    def build(cls, method: str, path: str, body: dict[str, Any]) -> Self:
        return cls(method=method, path=path, body=cast(JSON, body))


@strawberry.type(description="What provisioning a user would send to the target.")
class AccountPreview:
    action: PreviewActionEnum  # type: ignore[valid-type]
    request: ScimRequestPreview | None = strawberry.field(
        description="The POST of a create, or the PATCH (or PUT, on a target "
        "without PATCH) of an update; null when nothing would be sent."
    )
    account: LazyScimAccount | None = strawberry.field(
        description="The user's account in the target, linked or matched."
    )
    has_access: bool = strawberry.field(
        description="Whether the user has access; createAccount needs it."
    )
    problems: list[MappingProblem]
    notice: str | None

    @classmethod
    def from_domain(
        cls, preview: AccountPreviewModel, account: LazyScimAccount | None
    ) -> Self:
        request = preview.request
        return cls(
            action=preview.action,
            request=ScimRequestPreview.build(request.method, request.path, request.body)
            if request
            else None,
            account=account,
            has_access=preview.has_access,
            problems=[
                MappingProblem.from_domain(MappingKind.USER, p)
                for p in preview.problems
            ],
            notice=preview.notice,
        )


RFC_SPELLINGS = {
    "datetime": "dateTime",
    "readonly": "readOnly",
    "readwrite": "readWrite",
    "writeonly": "writeOnly",
}


def _rfc_spelling(value: str | None) -> str | None:
    """Return a lower-cased schema keyword in RFC 7643's camelCase."""
    return RFC_SPELLINGS.get(value, value) if value is not None else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
