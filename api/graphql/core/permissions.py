"""Token roles: a viewer token may run queries but no mutation."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.graphql.core.context import Context
from domain.models import TokenRole


class ViewerTokensReadOnly(SchemaExtension):
    """Schema extension that rejects a mutation sent with a viewer token before
    any resolver runs."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context: Context = execution.context
        if (
            execution.operation_type is OperationType.MUTATION
            and context.token.role is TokenRole.VIEWER
        ):
            # Strawberry (0.341) skips execution when a result is already set.
            execution.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        f"API token {context.token.name!r} has the viewer role, "
                        "which may only run queries; use a token created with "
                        "`smartlink create-token NAME --role admin`."
                    )
                ],
            )
        yield
