"""SCIM attribute paths (RFC 7644 3.10), as attribute mappings write them.

A path names an attribute of a resource, optionally under its schema URN, a
sub-attribute after a dot, and for multi-valued attributes one value chosen by
an equality filter:

- `userName`, `name.givenName`
- `emails[type eq "work"].value`
- `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`

Only `eq` filters on one sub-attribute are accepted, because a mapping must
name exactly the value it writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from domain.errors import InvalidInput

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_$-]*"
FILTER_PATTERN = re.compile(
    rf'^\[\s*(?P<attribute>{NAME_PATTERN})\s+eq\s+"(?P<value>(?:[^"\\]|\\.)*)"\s*\]'
)
NAME = re.compile(rf"^{NAME_PATTERN}$")


@dataclass(frozen=True)
class AttributePath:
    """A parsed attribute path; `schema_urn` is None for the resource's core schema."""

    schema_urn: str | None
    attribute: str
    sub_attribute: str | None = None
    #: The `(sub-attribute, value)` of an `eq` filter choosing one value.
    value_filter: tuple[str, str] | None = None

    def __str__(self) -> str:
        text = self.attribute
        if self.value_filter is not None:
            name, value = self.value_filter
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            text += f'[{name} eq "{escaped}"]'
        if self.sub_attribute is not None:
            text += f".{self.sub_attribute}"
        return f"{self.schema_urn}:{text}" if self.schema_urn else text

    @property
    def attribute_path(self) -> str:
        """The path without its filter, as schemas name it: `emails.value`."""
        if self.sub_attribute is None:
            return self.attribute
        return f"{self.attribute}.{self.sub_attribute}"

    @property
    def patch_path(self) -> str:
        """The path a PATCH operation replaces to set this value.

        A filtered value is written by replacing the whole attribute, because
        RFC 7644 3.5.2.3 makes a filter that matches no value an error.
        """
        text = self.attribute if self.value_filter else self.attribute_path
        return f"{self.schema_urn}:{text}" if self.schema_urn else text

    @property
    def selected_value(self) -> AttributePath:
        """The path of the whole value a filter selects: `emails[type eq "work"]`.

        A PATCH `remove` with this path removes the matching values only (RFC
        7644 3.5.2.2). A path without a filter is returned as it is.
        """
        if self.value_filter is None:
            return self
        return replace(self, sub_attribute=None)


def parse_path(text: str, core_urn: str) -> AttributePath:
    """Parse an attribute path; the core schema's URN prefix is dropped.

    Raises `InvalidInput` naming the path and the accepted forms.
    """
    return _parse(text, core_urn, whole_value=False)


def parse_patch_path(text: str, core_urn: str) -> AttributePath:
    """Parse the path of an update: an attribute path, or a `selected_value` one.

    Unlike `parse_path`, a filter may end the path, as in
    `emails[type eq "work"]`, which names whole values to remove.
    """
    return _parse(text, core_urn, whole_value=True)


def _parse(text: str, core_urn: str, *, whole_value: bool) -> AttributePath:
    stripped = text.strip()
    urn, rest = _split_urn(stripped)
    if urn is not None and urn.lower() == core_urn.lower():
        urn = None

    match = re.match(rf"^{NAME_PATTERN}", rest)
    if match is None:
        raise _invalid(text, "it does not start with an attribute name")
    attribute, rest = match.group(0), rest[match.end() :]

    value_filter = None
    if rest.startswith("["):
        found = FILTER_PATTERN.match(rest)
        if found is None:
            raise _invalid(text, 'its filter is not of the form [type eq "work"]')
        value = re.sub(r"\\(.)", r"\1", found.group("value"))
        value_filter = (found.group("attribute"), value)
        rest = rest[found.end() :]

    sub_attribute = None
    if rest.startswith("."):
        sub_attribute, rest = rest[1:], ""
        if not NAME.match(sub_attribute):
            raise _invalid(text, f"{sub_attribute!r} is not a sub-attribute name")
    if rest:
        raise _invalid(text, f"{rest!r} cannot follow the attribute name")
    if value_filter is not None and sub_attribute is None and not whole_value:
        raise _invalid(text, "a filtered path must end with a sub-attribute")
    return AttributePath(urn, attribute, sub_attribute, value_filter)


def _split_urn(text: str) -> tuple[str | None, str]:
    """Split `urn:...:Name:attribute` at the colon before the attribute."""
    if not text.lower().startswith("urn:"):
        return None, text
    head = text.split("[", 1)[0]
    if ":" not in head:
        return None, text
    cut = head.rindex(":")
    return text[:cut], text[cut + 1 :]


def _invalid(text: str, reason: str) -> InvalidInput:
    return InvalidInput(
        f"Attribute path {text!r} is invalid: {reason}. Write a path such as "
        'userName, name.givenName, emails[type eq "work"].value or '
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department."
    )
