"""The handling of GraphQL errors on their way to clients and the server log.

Errors a client caused (a malformed document, a refused permission, a
`DomainError` raised in a query) keep their message. Any other exception is a
bug: the client gets a generic message and an error id, and the server log
gets the same id with the traceback, so nothing internal leaks.
"""

from __future__ import annotations

import logging
import re
import uuid

from graphql import GraphQLError
from strawberry.relay.types import GlobalIDValueError

from api.graphql.core.ids import message_for_client
from domain.errors import DomainError

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"

#: The hint graphql-core appends to unknown names, such as "Did you mean 'id'?".
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")

#: Exceptions whose message is written for the client.
_CLIENT_ERRORS = (GraphQLError, DomainError, GlobalIDValueError)


def process_graphql_errors(
    errors: list[GraphQLError], *, suggestions: bool, operation: str | None
) -> None:
    """Mask unexpected errors in place, log every error, and drop suggestions.

    The errors are changed in place because Strawberry sends the same objects
    to the client afterwards.
    """
    for error in errors:
        if (error.extensions or {}).get("code") == INTERNAL_ERROR:
            continue
        if _is_client_error(error):
            if not suggestions:
                error.message = _SUGGESTION.sub("", error.message)
            error.message = _cut(error.message)
            _add_code(error)
            # Logged before the ids are shown as global ids: operators look
            # rows up by their UUID.
            logger.info(
                "GraphQL operation %s failed: %s", _name(operation), error.message
            )
            if isinstance(error.original_error, DomainError):
                error.message = _cut(message_for_client(error.original_error))
        else:
            _mask(error, operation)


#: Characters of a client error's message at most. A syntax error repeats the
#: offending token, which may be as long as the request body.
MESSAGE_MAX_LENGTH = 1000


def _cut(message: str) -> str:
    if len(message) <= MESSAGE_MAX_LENGTH:
        return message
    return f"{message[:MESSAGE_MAX_LENGTH]}... ({len(message)} characters in all)"


def _is_client_error(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, _CLIENT_ERRORS)


def _add_code(error: GraphQLError) -> None:
    if isinstance(error.original_error, DomainError) and not error.extensions:
        error.extensions = {"code": error.original_error.code.value}


def _name(operation: str | None) -> str:
    """Name an operation for the log; clients may leave operations unnamed."""
    return repr(operation) if operation else "(unnamed)"


def _mask(error: GraphQLError, operation: str | None) -> None:
    error_id = uuid.uuid4().hex
    original = error.original_error
    logger.error(
        "Unexpected error %s in GraphQL operation %s at %s.",
        error_id,
        _name(operation),
        ".".join(str(key) for key in error.path or ()) or "the root",
        exc_info=(type(original), original, original.__traceback__)
        if original is not None
        else None,
    )
    error.message = (
        f"Internal server error {error_id}. The server log holds its details "
        "under this id; quote it when reporting the problem."
    )
    error.extensions = {"code": INTERNAL_ERROR, "errorId": error_id}
    error.original_error = None
