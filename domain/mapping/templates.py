"""Templates over SmartLink fields, such as `{givenName} {familyName}`.

Braces are doubled to write them literally (`{{` and `}}`), as in Python's
`str.format`, whose parser reads the templates.
"""

from __future__ import annotations

import string
from typing import Any

from domain.errors import InvalidInput

_FORMATTER = string.Formatter()


def placeholders(template: str) -> list[str]:
    """Return the field names a template uses, or raise `InvalidInput`."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise InvalidInput(
            f"Template {template!r} is invalid: {exc}. Write fields in braces, "
            "such as {givenName} {familyName}, and double a literal brace."
        ) from exc
    names = []
    for _text, name, format_spec, conversion in parts:
        if name is None:
            continue
        if format_spec or conversion or not name:
            raise InvalidInput(
                f"Template {template!r} has placeholder {{{name}}} with a format, "
                "a conversion or no name; write plain fields such as {givenName}."
            )
        names.append(name)
    return names


def render(template: str, fields: dict[str, Any]) -> str | None:
    """Fill a template; missing fields become empty, and blank results None.

    The result is stripped, so `{givenName} {familyName}` of a user without a
    family name has no trailing space. A template whose placeholders are all
    empty is None too, even with literal text: `{title} ({department})` of a
    user with neither field gives None, not "()", so a create leaves the
    attribute out and an update removes it. A template without placeholders
    gives its text.
    """
    pieces = []
    filled = 0
    placeholder_count = 0
    for text, name, _spec, _conversion in _FORMATTER.parse(template):
        pieces.append(text)
        if name is not None:
            value = _text(fields.get(name))
            pieces.append(value)
            placeholder_count += 1
            filled += bool(value)
    if placeholder_count and not filled:
        return None
    rendered = "".join(pieces).strip()
    return rendered or None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
