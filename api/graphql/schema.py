"""The GraphQL schema: root Query and Mutation composed from each area."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.extensions import ParserCache, ValidationCache

from api.graphql.automation.mutations import AutomationMutations
from api.graphql.automation.queries import AutomationQueries
from api.graphql.automation.types import Ticket
from api.graphql.core.permissions import ViewerTokensReadOnly
from api.graphql.directory.mutations import DirectoryMutations
from api.graphql.directory.queries import DirectoryQueries
from api.graphql.provisioning.mutations import ProvisioningMutations
from api.graphql.provisioning.types import (
    ProvisioningOperation,
    RefreshRun,
    ScimAccount,
    ScimGroup,
)


@strawberry.type
class Query(DirectoryQueries, AutomationQueries):
    node: relay.Node | None = relay.node(description="Fetch any object by its id.")


@strawberry.type
class Mutation(DirectoryMutations, ProvisioningMutations, AutomationMutations):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[ScimAccount, ScimGroup, RefreshRun, ProvisioningOperation, Ticket],
    extensions=[ParserCache, ValidationCache, ViewerTokensReadOnly],
)
