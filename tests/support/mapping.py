"""GraphQL documents and helpers for the attribute mapping tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import Scim2Server

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ACME = "urn:example:params:scim:schemas:extension:acme:2.0:User"

MAPPING = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        mapping {
          user { kind entries { path source value } problems { code path } }
          group { kind entries { path source value } }
          problems { kind code message path schemaUrn entryIndex }
          notice
        }
      }
    }
  }
}
"""

UPDATE_MAPPING = """
mutation($input: UpdateAttributeMappingInput!) {
  updateAttributeMapping(input: $input) {
    provisioning { mapping { user { entries { path source value } } } }
    errors { code message field }
  }
}
"""

PREVIEW = """
query($applicationId: ID!, $userId: ID!) {
  previewAccount(applicationId: $applicationId, userId: $userId) {
    action hasAccess notice
    request { method path body }
    account { scimId userName }
    problems { code message path }
  }
}
"""

DEFAULT_USER_ENTRIES = [
    {"path": "userName", "source": "FIELD", "value": "email"},
    {"path": "name.givenName", "source": "FIELD", "value": "givenName"},
    {"path": "name.familyName", "source": "FIELD", "value": "familyName"},
    {"path": "displayName", "source": "FIELD", "value": "displayName"},
    {"path": 'emails[type eq "work"].value', "source": "FIELD", "value": "email"},
    {"path": 'emails[type eq "work"].primary', "source": "CONSTANT", "value": "true"},
    {"path": "active", "source": "FIELD", "value": "active"},
    {"path": "externalId", "source": "FIELD", "value": "id"},
]


async def mapping_of(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    data = await api(MAPPING, id=application_id)
    mapping: dict[str, Any] = data["node"]["provisioning"]["mapping"]
    return mapping


async def update_mapping(
    api: GraphQLClient, application_id: str, kind: str, entries: list[dict[str, str]]
) -> dict[str, Any]:
    """Run updateAttributeMapping and return its payload, errors included."""
    data = await api(
        UPDATE_MAPPING,
        input={"applicationId": application_id, "kind": kind, "entries": entries},
    )
    payload: dict[str, Any] = data["updateAttributeMapping"]
    return payload


def with_entries(*extra: dict[str, str]) -> list[dict[str, str]]:
    """Return the default user entries followed by `extra`."""
    return [*DEFAULT_USER_ENTRIES, *extra]


def acme_server(reference: Scim2Server, folder: Path) -> Iterator[Scim2Server]:
    """Run a scim2-server whose Users take the Acme extension, not the enterprise one.

    The extension has a required `costCode`, an integer `seats`, a boolean
    `vip` and a read-only `ticketId`.
    """
    acme = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ACME,
        "name": "AcmeUser",
        "description": "Acme's own User attributes",
        "attributes": [
            extension_attribute("costCode", "string", required=True),
            extension_attribute("seats", "integer"),
            extension_attribute("vip", "boolean"),
            extension_attribute("ticketId", "string", mutability="readOnly"),
        ],
    }
    server = extended_server(
        reference,
        folder / "acme",
        [acme],
        {"User": [{"schema": ACME, "required": False}]},
        without=[ENTERPRISE],
    )
    yield server
    server.stop()


def extended_server(
    reference: Scim2Server,
    folder: Path,
    extensions: list[dict[str, Any]],
    schema_extensions: dict[str, list[dict[str, Any]]],
    *,
    without: Sequence[str] = (),
) -> Scim2Server:
    """Start a scim2-server that serves extra schemas through `--schema`.

    `extensions` are the extra /Schemas documents, and `schema_extensions`
    replaces the schemaExtensions of the ResourceTypes it names by id.
    Schemas whose id is in `without` are left out. The caller stops the server.
    """
    tenant = reference.tenant()
    schemas = [
        schema
        for schema in tenant.get("/Schemas")["Resources"]
        if schema["id"] not in without
    ]
    schemas.extend(extensions)
    resource_types = tenant.get("/ResourceTypes")["Resources"]
    for resource_type in resource_types:
        if resource_type["id"] in schema_extensions:
            resource_type["schemaExtensions"] = schema_extensions[resource_type["id"]]
    for document in [*schemas, *resource_types]:
        document.pop("meta", None)
    folder.mkdir(parents=True, exist_ok=True)
    schema_file = folder / "schemas.json"
    schema_file.write_text(json.dumps(schemas))
    types_file = folder / "resource-types.json"
    types_file.write_text(json.dumps(resource_types))
    return Scim2Server.start(
        "--schema", str(schema_file), "--resource-type", str(types_file)
    )


def extension_attribute(name: str, type_: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **overrides,
    }
