"""Permissions of the API token roles.

Admin tokens may do everything. Viewer tokens may run queries, but no
mutation, and may not read the raw SCIM JSON that targets return (`raw`
fields and the `schema` documents) nor the audit log. A refusal is a GraphQL
error whose `extensions.code` is FORBIDDEN.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.graphql.core.context import Context, Info
from domain.models import TokenRole

logger = logging.getLogger(__name__)

FORBIDDEN = "FORBIDDEN"


class PermissionDenied(GraphQLError):
    """Raised when the request's API token role may not do what it asked."""

    def __init__(self, context: object, action: str) -> None:
        if isinstance(context, Context):
            token = context.token
            holder = f"The API token {token.name!r} has the {token.role.value} role"
        else:
            holder = "This request carries no API token"
        super().__init__(
            f"{holder}, which may not {action}. Use an admin token; an operator "
            "creates one with `smartlink create-token NAME --role admin`.",
            extensions={"code": FORBIDDEN},
        )


def is_admin(context: object) -> bool:
    return isinstance(context, Context) and context.token.role == TokenRole.ADMIN


def require_admin(info: Info, action: str) -> None:
    """Raise `PermissionDenied` unless the request's token is an admin's.

    `action` completes "which may not ...", such as "read raw SCIM JSON".
    """
    if not is_admin(info.context):
        raise PermissionDenied(info.context, action)


class MutationsNeedAdmin(SchemaExtension):
    """Refuse a whole mutation operation from a viewer before any resolver runs."""

    def on_execute(self) -> Iterator[None]:
        execution_context = self.execution_context
        context = execution_context.context
        if execution_context.operation_type == OperationType.MUTATION and not (
            is_admin(context)
        ):
            error = PermissionDenied(context, "run mutations")
            logger.info("Refused a mutation: %s", error.message)
            execution_context.result = ExecutionResult(data=None, errors=[error])
        yield
