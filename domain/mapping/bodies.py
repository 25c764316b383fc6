"""The bodies of the SCIM requests that create resources from a mapping."""

from __future__ import annotations

from typing import Any

from domain.mapping.entries import Mapping
from domain.mapping.evaluate import group_resource, user_resource
from domain.models import Folder, User
from domain.scim.outgoing import prepare_resource
from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA
from domain.scim.resource_types import ResourceType
from domain.scim.target_schema import TargetSchema


def create_user_body(
    mapping: Mapping,
    user: User,
    schema: TargetSchema,
    resource_type: ResourceType | None = None,
) -> dict[str, Any]:
    """Return the body of the POST that creates the user's account.

    The schema URNs take the spelling of `resource_type`, the target's User type.
    """
    resource = user_resource(mapping, user, user.active)
    body = prepare_resource(resource, USER_SCHEMA, schema)
    return list_schemas(body, USER_SCHEMA, resource_type)


def create_group_body(
    mapping: Mapping,
    folder: Folder,
    member_ids: list[str],
    schema: TargetSchema,
    resource_type: ResourceType | None = None,
) -> dict[str, Any]:
    """Return the body of the POST that creates the folder's group.

    The schema URNs take the spelling of `resource_type`, the target's Group type.
    """
    resource = group_resource(mapping, folder)
    if member_ids:
        resource["members"] = [{"value": member_id} for member_id in member_ids]
    body = prepare_resource(resource, GROUP_SCHEMA, schema)
    return list_schemas(body, GROUP_SCHEMA, resource_type)


def list_schemas(
    body: dict[str, Any], core_urn: str, resource_type: ResourceType | None
) -> dict[str, Any]:
    """Return `body` with `schemas` listing its core schema and the extensions in it.

    An extension object left empty is dropped, so `schemas` never names an
    extension that the body does not carry. URNs take the spelling of
    `resource_type` where it lists them, because a target may compare them
    case-sensitively.
    """
    core = resource_type.schema if resource_type is not None else core_urn
    listed = [core]
    shaped: dict[str, Any] = {"schemas": listed}
    for key, value in body.items():
        lowered = key.lower()
        if lowered == "schemas":
            continue
        if not lowered.startswith("urn:") or lowered == core_urn.lower():
            shaped[key] = value
            continue
        if isinstance(value, dict) and not value:
            continue
        extension = resource_type.extension(key) if resource_type else None
        urn = extension.urn if extension is not None else key
        listed.append(urn)
        shaped[urn] = value
    return shaped
