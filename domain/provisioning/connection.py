"""The Configuration tab: an application's SCIM endpoint, token and discovery."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.applications import get_application
from domain.audit import changed, record_audit, secret_change
from domain.config import get_settings
from domain.errors import InvalidInput, NotConnected
from domain.mapping.store import mapping_problems_of
from domain.models import ConnectionStatus, ScimConnection
from domain.models.columns import utcnow
from domain.outbound import OutboundPolicy, check_base_url, parse_base_url
from domain.provisioning.capabilities import connection_capabilities
from domain.provisioning.target_errors import target_error
from domain.scim.capabilities import read_service_provider_config
from domain.scim.client import ScimClient
from domain.scim.errors import (
    ScimError,
    ScimInvalidResponse,
    ScimMisrouted,
    ScimNotFound,
    ScimResponseError,
    ScimTokenUnreadable,
)
from domain.scim.payloads import get_key
from domain.scim.resource_types import ResourceTypes
from domain.scim.target_schema import TargetSchema
from domain.secrets import SecretKeyError, seal, unseal

logger = logging.getLogger(__name__)

TOKEN_MAX_LENGTH = 4096

#: Keys of which a ServiceProviderConfig (RFC 7643 5) has at least one.
SPC_KEYS = ("schemas", "patch", "filter", "bulk", "authenticationSchemes")

#: Statuses with which targets report that they lack a discovery endpoint.
NO_ENDPOINT = frozenset({400, 404, 405, 501})


async def get_connection(
    session: AsyncSession, application_id: uuid.UUID
) -> ScimConnection | None:
    return await session.get(ScimConnection, application_id)


async def require_connection(
    session: AsyncSession, application_id: uuid.UUID
) -> ScimConnection:
    """Return the application's connection, or raise `NotConnected`.

    Raises `NotFound` when the application does not exist. A connection row
    proves that it does, because its foreign key cascades on delete.
    """
    connection = await get_connection(session, application_id)
    if connection is None:
        await get_application(session, application_id)
    if connection is None or connection.status != ConnectionStatus.CONNECTED:
        raise NotConnected(
            f"Application {application_id} is not connected to a SCIM endpoint; "
            "save a base URL and token in the Configuration tab first.",
            field=["applicationId"],
            references={application_id: "Application"},
        )
    return connection


def outbound_policy() -> OutboundPolicy:
    """Return the outbound rules that `SMARTLINK_OUTBOUND_ALLOW` sets."""
    return OutboundPolicy.from_entries(get_settings().outbound_allow_list)


def open_client(connection: ScimConnection, *, dry_run: bool) -> ScimClient:
    """Return a client for the connection's endpoint, with its token decrypted.

    Raises `ScimTokenUnreadable` when the token does not decrypt. The client
    checks the outbound rules at each connection it opens.
    It carries what the target supports and the Schemas and ResourceTypes it
    published. With `dry_run`, which callers that write take from
    `dry_run_enabled`, it withholds every write (see `domain.scim.dry_run`).
    """
    settings = get_settings()
    token = None
    if connection.token_ciphertext:
        try:
            token = unseal(connection.token_ciphertext, connection.application_id)
        except SecretKeyError as exc:
            raise ScimTokenUnreadable(str(exc), url=connection.base_url) from exc
    return ScimClient(
        connection.base_url,
        token,
        timeout=settings.scim_timeout,
        total_timeout=settings.scim_total_timeout,
        max_response_bytes=settings.scim_max_response_bytes,
        policy=outbound_policy(),
        capabilities=connection_capabilities(connection),
        schema=TargetSchema.from_documents(connection.schemas),
        resource_types=ResourceTypes.from_documents(connection.resource_types),
        dry_run=dry_run,
    )


def _clean_token(token: str | None) -> str | None:
    if token is None:
        return None
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer ") :].strip()
    if len(token) > TOKEN_MAX_LENGTH or any(c.isspace() for c in token):
        raise InvalidInput(
            f"The token must be a single word of at most {TOKEN_MAX_LENGTH} "
            "characters; paste the bearer token without spaces or line breaks.",
            field=["token"],
        )
    # An HTTP header carries ASCII only, and a bearer token (RFC 6750 2.1) is
    # printable ASCII.
    if any(not "!" <= c <= "~" for c in token):
        raise InvalidInput(
            "The token contains characters other than printable ASCII; paste the "
            "bearer token exactly as the application issued it.",
            field=["token"],
        )
    return token or None


async def configure_provisioning(
    session: AsyncSession,
    application_id: uuid.UUID,
    *,
    base_url: str,
    token: str | None,
    token_name: str | None = None,
) -> ScimConnection:
    """Save the endpoint and token, then read the target's discovery documents.

    The connection is committed as CONNECTED, or as FAILED with `last_error`
    before the failure is raised, so the Configuration tab shows either.
    Leaving the token out keeps the saved one only while the URL is unchanged,
    so a saved token is never sent to another host. The change is audited
    under `token_name`, the API token that asked for it.
    """
    await get_application(session, application_id)
    base_url = parse_base_url(base_url)
    token = _clean_token(token)
    await check_base_url(base_url, outbound_policy())

    connection = await get_connection(session, application_id)
    if connection is None:
        connection = ScimConnection(application_id=application_id, base_url="")
        session.add(connection)
    had_token = connection.token_ciphertext is not None
    url_changed = connection.base_url != base_url
    changes = changed({"baseUrl": connection.base_url or None}, {"baseUrl": base_url})
    if token is not None:
        connection.token_ciphertext = seal(token, application_id)
    elif url_changed:
        connection.token_ciphertext = None
    word = secret_change(
        was_set=had_token, new_value=token is not None, cleared=url_changed
    )
    if word is not None:
        changes["token"] = word
    connection.base_url = base_url
    record_audit(
        session,
        token_name=token_name,
        action="configureProvisioning",
        application_id=application_id,
        objects={"Application": application_id},
        changes=changes,
    )
    # A new discovery starts again from the target's ServiceProviderConfig.
    connection.update_method = None
    await session.commit()

    try:
        await discover(connection)
    except ScimError as exc:
        error = target_error(exc, f"connect to {base_url}")
        _mark(connection, ConnectionStatus.FAILED, error.message)
        await session.commit()
        logger.info("Application %s failed to connect: %s", application_id, exc)
        raise error from exc

    _mark(connection, ConnectionStatus.CONNECTED, None)
    await session.commit()
    logger.info("Application %s connected to %s.", application_id, base_url)
    await _log_mapping_problems(session, connection)
    return connection


async def _log_mapping_problems(
    session: AsyncSession, connection: ScimConnection
) -> None:
    """Log the mappings' problems against the schema just read.

    Provisioning.mapping shows them to the admin; they are worked out again
    on each read, so they always match the saved schema.
    """
    problems = await mapping_problems_of(session, connection.application_id, connection)
    for problem in problems:
        logger.warning(
            "Application %s's mapping no longer fits the target: %s",
            connection.application_id,
            problem.message,
        )


def _mark(
    connection: ScimConnection, status: ConnectionStatus, error: str | None
) -> None:
    connection.status = status
    connection.last_error = error
    connection.last_checked_at = utcnow()


async def discover(connection: ScimConnection) -> None:
    """Read ServiceProviderConfig, ResourceTypes and Schemas (RFC 7644 4).

    A target without any of them still connects: without a
    ServiceProviderConfig, conservative capabilities apply, and the other two
    are left empty. Targets may serve discovery without authentication, so
    reading one user also checks the token.
    """
    async with open_client(connection, dry_run=False) as client:
        config = await _service_provider_config(client)
        connection.service_provider_config = config
        for problem in read_service_provider_config(config).problems:
            logger.info(
                "Application %s's ServiceProviderConfig: %s.",
                connection.application_id,
                problem,
            )
        connection.resource_types = await _optional_list(client, "ResourceTypes")
        connection.schemas = await _optional_list(client, "Schemas")
        await client.get("Users", startIndex=1, count=1)


async def _service_provider_config(client: ScimClient) -> dict[str, Any] | None:
    try:
        config = await client.get("ServiceProviderConfig")
    except (ScimNotFound, ScimMisrouted):
        logger.info("Target %s has no /ServiceProviderConfig.", client.base_url)
        return None
    if not any(get_key(config, key) is not None for key in SPC_KEYS):
        raise ScimInvalidResponse(
            f"GET {client.base_url}/ServiceProviderConfig returned JSON that is "
            "not a SCIM ServiceProviderConfig.",
            method="GET",
            url=f"{client.base_url}/ServiceProviderConfig",
        )
    return config


async def _optional_list(client: ScimClient, endpoint: str) -> list[Any]:
    """Return a discovery endpoint's resources, or none if the target lacks it."""
    try:
        body = await client.get(endpoint)
    except ScimResponseError as exc:
        if exc.status not in NO_ENDPOINT:
            raise
        logger.info(
            "Target %s has no /%s endpoint (%s).", client.base_url, endpoint, exc.status
        )
        return []
    resources = get_key(body, "Resources")
    return (
        [r for r in resources if isinstance(r, dict)]
        if isinstance(resources, list)
        else []
    )
