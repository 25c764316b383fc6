"""The capabilities of each connection's target: discovered, learned, overridden.

The ServiceProviderConfig (RFC 7643 5) is read when the connection is
configured and kept on the connection, so these checks send no request. The
Configuration tab shows the result with the source of each value, and an admin
may override any of them for the application.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.audit import changed, record_audit
from domain.config import get_settings
from domain.errors import InvalidInput, NotConnected
from domain.models import ScimConnection
from domain.scim.capabilities import (
    OVERRIDE_KEYS,
    Capabilities,
    UpdateMethod,
    read_service_provider_config,
    with_learned,
    with_overrides,
)
from domain.scim.payloads import get_key, parse_int

logger = logging.getLogger(__name__)

#: The largest limit an admin may set, as a guard against typing errors.
MAX_LIMIT = 100_000

#: Marks an override left as it is, unlike None, which removes it.
KEEP: Any = object()


def connection_capabilities(connection: ScimConnection) -> Capabilities:
    """Return the target's capabilities, with the learned method and overrides."""
    capabilities = read_service_provider_config(connection.service_provider_config)
    learned = (
        UpdateMethod(connection.update_method) if connection.update_method else None
    )
    capabilities = with_learned(capabilities, learned)
    return with_overrides(capabilities, connection.capability_overrides)


def supports_patch(connection: ScimConnection) -> bool:
    """Return whether to send PATCH, by the connection's effective capabilities."""
    return connection_capabilities(connection).patch.supported


def members_per_request(connection: ScimConnection) -> int:
    """Return how many members one request may add or remove.

    RFC 7644 sets no limit on the operations or values of a PATCH, so the
    setting `scim_members_per_request` bounds it, lowered to the target's
    `bulk.maxOperations` (or the admin's override) when that is smaller.
    """
    limit = get_settings().scim_members_per_request
    announced = connection_capabilities(connection).max_operations.value
    if announced is None:
        bulk = get_key(connection.service_provider_config, "bulk")
        announced = parse_int(get_key(bulk, "maxOperations"))
    if announced is not None and announced > 0:
        return min(limit, announced)
    return limit


async def update_capability_overrides(
    session: AsyncSession,
    application_id: uuid.UUID,
    *,
    token_name: str | None = None,
    **overrides: Any,
) -> ScimConnection:
    """Set or remove the application's capability overrides.

    Each keyword is one of `OVERRIDE_KEYS`: a value overrides what the target
    publishes, None removes the override, and `KEEP` leaves it. Removing the patch
    override also clears the learned update method, so the target's own
    declaration applies again. The change is audited under `token_name`.
    """
    await get_application(session, application_id)
    connection = await session.get(ScimConnection, application_id)
    if connection is None:
        raise NotConnected(
            f"Application {application_id} has no SCIM connection to override; "
            "save a base URL and token in the Configuration tab first.",
            field=["applicationId"],
            references={application_id: "Application"},
        )

    stored = dict(connection.capability_overrides or {})
    for key, value in overrides.items():
        if key not in OVERRIDE_KEYS:
            raise ValueError(f"Unknown capability override {key!r}.")
        if value is KEEP:
            continue
        if key in ("maxResults", "maxOperations") and value is not None:
            _check_limit(key, value)
        if value is None:
            stored.pop(key, None)
            if key == "patch":
                connection.update_method = None
        else:
            stored[key] = value

    changes = changed(connection.capability_overrides or {}, stored)
    connection.capability_overrides = stored or None
    if changes:
        record_audit(
            session,
            token_name=token_name,
            action="updateScimCapabilities",
            application_id=application_id,
            objects={"Application": application_id},
            changes=changes,
        )
    await session.commit()
    logger.info(
        "Application %s capability overrides are now %s.", application_id, stored
    )
    return connection


def _check_limit(key: str, value: int) -> None:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(
            f"{key} must be between 1 and {MAX_LIMIT}, not {value}; give the limit "
            "the target documents, or null to use what it publishes.",
            field=[key],
        )


def remember_update_method(connection: ScimConnection, method: UpdateMethod) -> None:
    """Store the update method the target accepted after rejecting the other."""
    if connection.update_method != method.value:
        logger.info(
            "Application %s's target takes %s for updates; remembering it.",
            connection.application_id,
            method.value,
        )
        connection.update_method = method.value
