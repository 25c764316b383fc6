"""The bodies of the SCIM requests that create resources from a mapping."""

from __future__ import annotations

from typing import Any

from domain.mapping.entries import Mapping
from domain.mapping.evaluate import group_resource, user_resource
from domain.models import Folder, User
from domain.scim.outgoing import prepare_resource
from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA
from domain.scim.target_schema import TargetSchema


def create_user_body(
    mapping: Mapping, user: User, schema: TargetSchema
) -> dict[str, Any]:
    """Return the body of the POST that creates the user's account."""
    resource = user_resource(mapping, user, user.active)
    return prepare_resource(resource, USER_SCHEMA, schema)


def create_group_body(
    mapping: Mapping, folder: Folder, member_ids: list[str], schema: TargetSchema
) -> dict[str, Any]:
    """Return the body of the POST that creates the folder's group."""
    resource = group_resource(mapping, folder)
    if member_ids:
        resource["members"] = [{"value": member_id} for member_id in member_ids]
    return prepare_resource(resource, GROUP_SCHEMA, schema)
