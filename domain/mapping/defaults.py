"""The mappings a new connection starts with.

They build the same resources this product sent before mappings were
editable. A user's account gets userName and the primary work email from the
email, the name parts, displayName, active, and the user's id as externalId.
A group gets its displayName from the folder's name and its externalId from
the folder's id.
"""

from __future__ import annotations

from domain.mapping.entries import Mapping, MappingEntry, MappingKind, SourceKind
from domain.scim.paths import parse_path

FIELD = SourceKind.FIELD

USER_DEFAULTS = (
    ("userName", FIELD, "email"),
    ("name.givenName", FIELD, "givenName"),
    ("name.familyName", FIELD, "familyName"),
    ("displayName", FIELD, "displayName"),
    ('emails[type eq "work"].value', FIELD, "email"),
    ('emails[type eq "work"].primary', SourceKind.CONSTANT, True),
    ("active", FIELD, "active"),
    ("externalId", FIELD, "id"),
)

GROUP_DEFAULTS = (
    ("displayName", FIELD, "name"),
    ("externalId", FIELD, "id"),
)


def default_mapping(kind: MappingKind) -> Mapping:
    rows = USER_DEFAULTS if kind is MappingKind.USER else GROUP_DEFAULTS
    return Mapping(
        kind,
        tuple(
            MappingEntry(parse_path(path, kind.core_urn), source, value)
            for path, source, value in rows
        ),
    )
