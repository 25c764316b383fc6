"""The GraphQL schema: root Query and Mutation composed from each area.

Its extensions add the protections that settings choose: limits on depth,
aliases and tokens, introspection and name suggestions that production can
turn off. Viewer tokens are kept from mutations, text that no database can
store is rejected, and unexpected errors are masked.
"""

from __future__ import annotations

from functools import lru_cache

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from api.graphql.audit.queries import AuditQueries
from api.graphql.audit.types import AuditEntry
from api.graphql.automation.mutations import AutomationMutations
from api.graphql.automation.queries import AutomationQueries
from api.graphql.automation.types import Ticket
from api.graphql.core.ids import RecordSentIds
from api.graphql.core.masking import process_graphql_errors
from api.graphql.core.permissions import MutationsNeedAdmin
from api.graphql.core.text_input import RejectUnstorableText
from api.graphql.directory.bulk_access import BulkAccessMutations
from api.graphql.directory.mutations import DirectoryMutations
from api.graphql.directory.queries import DirectoryQueries
from api.graphql.mapping.mutations import MappingMutations
from api.graphql.mapping.queries import MappingQueries
from api.graphql.provisioning.mutations import ProvisioningMutations
from api.graphql.provisioning.types import (
    ProvisioningOperation,
    RefreshRun,
    ScimAccount,
    ScimGroup,
)
from domain.config import get_settings


@strawberry.type
class Query(DirectoryQueries, AutomationQueries, AuditQueries, MappingQueries):
    node: relay.Node | None = relay.node(description="Fetch any object by its id.")


@strawberry.type
class Mutation(
    DirectoryMutations,
    BulkAccessMutations,
    ProvisioningMutations,
    AutomationMutations,
    MappingMutations,
):
    pass


class SmartLinkSchema(strawberry.Schema):
    """The schema, with errors masked and logged by `process_graphql_errors`."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        operation = execution_context.operation_name if execution_context else None
        process_graphql_errors(
            errors,
            suggestions=get_settings().graphql_field_suggestions,
            operation=operation,
        )


class SettingsTokenLimit(MaxTokensLimiter):
    """The token limit that `SMARTLINK_GRAPHQL_MAX_TOKENS` sets."""

    def __init__(self) -> None:
        super().__init__(max_token_count=get_settings().graphql_max_tokens)


class SettingsValidationRules(AddValidationRules):
    """The depth and alias limits, and the introspection switch, of the settings."""

    def __init__(self) -> None:
        settings = get_settings()
        rules = _validation_rules(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            introspection=settings.graphql_introspection,
        )
        super().__init__(list(rules))


@lru_cache(maxsize=8)
def _validation_rules(
    *, max_depth: int, max_aliases: int, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    # Built once per set of values, so that ValidationCache, which keys on the
    # rule classes, finds a document's earlier result.
    rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if not introspection:
        rules.extend(DisableIntrospection().validation_rules)
    return tuple(rules)


#: The schema. Its extensions are built anew for each request, so they read
#: the settings of the moment; Strawberry types can be in one schema only.
schema = SmartLinkSchema(
    query=Query,
    mutation=Mutation,
    types=[
        ScimAccount,
        ScimGroup,
        RefreshRun,
        ProvisioningOperation,
        AuditEntry,
        Ticket,
    ],
    extensions=[
        SettingsTokenLimit,
        ParserCache,
        SettingsValidationRules,
        ValidationCache,
        MutationsNeedAdmin,
        RejectUnstorableText,
        RecordSentIds,
    ],
)
