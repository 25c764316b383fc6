"""Mutations behind the buttons of the Provisioning page, one module per area."""

from __future__ import annotations

import strawberry

from api.graphql.provisioning.mutations.accounts import AccountMutations
from api.graphql.provisioning.mutations.connection import ConnectionMutations
from api.graphql.provisioning.mutations.groups import GroupMutations


@strawberry.type
class ProvisioningMutations(ConnectionMutations, AccountMutations, GroupMutations):
    pass
