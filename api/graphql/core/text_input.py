"""Rejection of text that no database column can store, or that misleads.

PostgreSQL rejects the NUL character (U+0000) in text, and no database takes
a lone UTF-16 surrogate, which JSON escapes such as "\\ud800" can produce.
Bidirectional control characters are stored fine but can disguise a name.
Such a string in any argument or variable rejects the whole operation, before
a resolver runs, instead of failing half-way in the database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

logger = logging.getLogger(__name__)

INVALID_TEXT = "INVALID_TEXT"


class RejectUnstorableText(SchemaExtension):
    """Reject an operation with a string that `text_problem` rejects."""

    def on_execute(self) -> Iterator[None]:
        execution_context = self.execution_context
        document = execution_context.graphql_document
        found = _literal_problem(document) if document is not None else None
        found = found or _variable_problem(execution_context.variables or {})
        if found is not None and not execution_context.result:
            error = GraphQLError(
                f"A string in the request {found}; remove it and send the request "
                "again.",
                extensions={"code": INVALID_TEXT},
            )
            logger.info("Rejected an operation: %s", error.message)
            execution_context.result = ExecutionResult(data=None, errors=[error])
        yield


#: Unicode's bidirectional embeddings, overrides and isolates (U+202A to
#: U+202E, U+2066 to U+2069). They can make a name display in an order other
#: than the one it is stored in, such as "gnp.exe" shown as "exe.png".
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def text_problem(value: str) -> str | None:
    """Return why `value` is rejected, or None when it is accepted."""
    if "\x00" in value:
        return "contains the NUL character (U+0000), which databases cannot store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not valid Unicode text"
    control = BIDI_CONTROLS.search(value)
    if control is not None:
        return (
            f"contains the bidirectional control character U+{ord(control[0]):04X}, "
            "which can make text display in a misleading order"
        )
    return None


def _variable_problem(value: object) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = _variable_problem(item)
        if found is not None:
            return found
    return None


def _literal_problem(document: object) -> str | None:
    finder = _LiteralFinder()
    visit(document, finder)  # type: ignore[arg-type]
    return finder.found


class _LiteralFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: str | None = None

    def enter_string_value(self, node: StringValueNode, *args: object) -> None:
        self.found = self.found or text_problem(node.value)
