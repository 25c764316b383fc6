"""The capabilities of each connection's target, as its discovery states them."""

from __future__ import annotations

from domain.models import ScimConnection
from domain.scim.capabilities import Capabilities, read_service_provider_config


def connection_capabilities(connection: ScimConnection) -> Capabilities:
    """Return the target's capabilities, from its stored ServiceProviderConfig."""
    return read_service_provider_config(connection.service_provider_config)
