"""The GraphQL schema: root Query and Mutation composed from each area."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.extensions import ParserCache, ValidationCache

from api.graphql.audit.queries import AuditQueries
from api.graphql.audit.types import AuditEntry
from api.graphql.core.permissions import MutationsNeedAdmin
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
class Query(DirectoryQueries, AuditQueries):
    node: relay.Node | None = relay.node(description="Fetch any object by its id.")


@strawberry.type
class Mutation(DirectoryMutations, ProvisioningMutations):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[ScimAccount, ScimGroup, RefreshRun, ProvisioningOperation, AuditEntry],
    extensions=[ParserCache, ValidationCache, MutationsNeedAdmin],
)
