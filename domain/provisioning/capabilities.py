"""Capabilities that a target announces in its ServiceProviderConfig.

The document (RFC 7643 5) is read when the connection is configured and kept
on the connection, so these checks send no request.
"""

from __future__ import annotations

from domain.config import get_settings
from domain.models import ScimConnection
from domain.scim.payloads import get_key, parse_bool, parse_int


def supports_patch(connection: ScimConnection) -> bool:
    """Return whether to send PATCH; a target that does not announce it is tried."""
    patch = get_key(connection.service_provider_config, "patch")
    return parse_bool(get_key(patch, "supported")) is not False


def members_per_request(connection: ScimConnection) -> int:
    """Return how many members one request may add or remove.

    RFC 7644 sets no limit on the operations or values of a PATCH, so the
    setting `scim_members_per_request` bounds it, lowered to the target's
    `bulk.maxOperations` when it announces a smaller one.
    """
    limit = get_settings().scim_members_per_request
    bulk = get_key(connection.service_provider_config, "bulk")
    announced = parse_int(get_key(bulk, "maxOperations"))
    if announced is not None and announced > 0:
        return min(limit, announced)
    return limit
