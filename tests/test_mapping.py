"""Attribute mappings: defaults, checks against the target's schema, and writes.

The targets are scim2-server with its default schemas (RFC 7643 with the
enterprise User extension), and one serving a custom Acme extension through
`--schema`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.mapping.templates import render
from tests.support.fake_scim import FakeScim
from tests.support.fixtures import (
    CONFIGURE,
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.mapping import (
    ACME,
    DEFAULT_USER_ENTRIES,
    ENTERPRISE,
    PREVIEW,
    acme_server,
    mapping_of,
    update_mapping,
    with_entries,
)
from tests.support.scim2_server import Scim2Server, ScimTenant

pytestmark = pytest.mark.usefixtures("job_worker")

SCHEMA_ATTRIBUTES = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        schema {
          notice
          userAttributes {
            path type multiValued required mutability description schemaUrn
          }
          groupAttributes { path type schemaUrn }
        }
      }
    }
  }
}
"""

UPDATE_USER = """
mutation($u: ID!, $department: String, $title: String) {
  updateUser(input: {userId: $u, department: $department, title: $title}) {
    errors { code message }
  }
}
"""

CREATE_GROUP = """
mutation($applicationId: ID!, $folderId: ID!) {
  createGroup(input: {applicationId: $applicationId, folderId: $folderId}) {
    group { scimId displayName } errors { code message }
  }
}
"""

CREATE_FOLDER = """
mutation($name: String!) {
  createFolder(input: {name: $name}) { folder { id } errors { message } }
}
"""

ADD_APPLICATION_TO_FOLDER = """
mutation($folderId: ID!, $applicationId: ID!) {
  addApplicationToFolder(input: {folderId: $folderId, applicationId: $applicationId}) {
    errors { message }
  }
}
"""


@pytest.fixture(scope="module")
def acme(
    scim2_server: Scim2Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scim2Server]:
    yield from acme_server(scim2_server, tmp_path_factory.mktemp("acme"))


async def connected(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    return application_id


async def ada(api: GraphQLClient, application_id: str, **fields: Any) -> str:
    user_id = await create_user(
        api, "ada@example.org", givenName="Ada", familyName="Lovelace"
    )
    if fields:
        data = await api(UPDATE_USER, u=user_id, **fields)
        assert data["updateUser"]["errors"] == []
    await grant_access(api, user_id, application_id)
    return user_id


async def test_defaults_fit_scim2_server(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)

    mapping = await mapping_of(api, application_id)

    assert mapping["user"]["entries"] == DEFAULT_USER_ENTRIES
    assert mapping["group"]["entries"] == [
        {"path": "displayName", "source": "FIELD", "value": "name"},
        {"path": "externalId", "source": "FIELD", "value": "id"},
    ]
    assert mapping["problems"] == []
    assert mapping["notice"] is None


async def test_schema_lists_attributes(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)

    data = await api(SCHEMA_ATTRIBUTES, id=application_id)

    schema = data["node"]["provisioning"]["schema"]
    users = {a["path"]: a for a in schema["userAttributes"]}
    assert users["userName"]["required"] is True
    assert users["userName"]["type"] == "string"
    assert users["emails.primary"]["type"] == "boolean"
    assert users["emails"]["multiValued"] is True
    assert users["groups"]["mutability"] == "readOnly"
    department = users[f"{ENTERPRISE}:department"]
    assert department["schemaUrn"] == ENTERPRISE
    assert department["mutability"] == "readWrite"
    assert department["description"]
    assert "members.value" in {a["path"] for a in schema["groupAttributes"]}
    assert all(a["schemaUrn"] != ENTERPRISE for a in schema["groupAttributes"])
    assert schema["notice"] is None


async def test_extension_attribute_reaches_target(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)
    payload = await update_mapping(
        api,
        application_id,
        "USER",
        with_entries(
            {
                "path": f"{ENTERPRISE}:department",
                "source": "FIELD",
                "value": "department",
            },
            {"path": "title", "source": "TEMPLATE", "value": "{title} ({department})"},
            {"path": "userType", "source": "CONSTANT", "value": "Employee"},
        ),
    )
    assert payload["errors"] == []
    user_id = await ada(api, application_id, department="Analytics", title="Countess")

    account = await create_account(api, application_id, user_id)

    resource = scim_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Analytics"}
    assert ENTERPRISE in resource["schemas"]
    assert resource["title"] == "Countess (Analytics)"
    assert resource["userType"] == "Employee"
    assert resource["userName"] == "ada@example.org"
    assert resource["emails"] == [
        {"value": "ada@example.org", "type": "work", "primary": True}
    ]
    assert resource["externalId"] == node_uuid(user_id)


async def test_update_sends_changed_extension_only(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await connected(api, scim_target)
    department = {
        "path": f"{ENTERPRISE}:department",
        "source": "FIELD",
        "value": "department",
    }
    assert (
        await update_mapping(api, application_id, "USER", with_entries(department))
    )["errors"] == []
    user_id = await ada(api, application_id, department="Analytics")
    account = await create_account(api, application_id, user_id)
    await update_settings(api, application_id, userUpdated="AUTOMATIC")

    data = await api(UPDATE_USER, u=user_id, department="Engines")
    assert data["updateUser"]["errors"] == []
    await wait_until(outbox_settled, what="the update event")

    resource = scim_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Engines"}
    assert resource["name"] == {"givenName": "Ada", "familyName": "Lovelace"}


async def test_group_mapping_builds_group(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)
    payload = await update_mapping(
        api,
        application_id,
        "GROUP",
        [
            {"path": "displayName", "source": "TEMPLATE", "value": "SmartLink {name}"},
            {"path": "externalId", "source": "FIELD", "value": "id"},
        ],
    )
    assert payload["errors"] == []
    folder_id = (await api(CREATE_FOLDER, name="Staff"))["createFolder"]["folder"]["id"]
    await api(
        ADD_APPLICATION_TO_FOLDER, folderId=folder_id, applicationId=application_id
    )

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    assert data["createGroup"]["errors"] == []
    group = scim_target.group(data["createGroup"]["group"]["scimId"])
    assert group is not None
    assert group["displayName"] == "SmartLink Staff"
    assert group["externalId"] == node_uuid(folder_id)


async def test_custom_schema_extension_values_typed(
    api: GraphQLClient, acme: Scim2Server
) -> None:
    target = acme.tenant()
    application_id = await connected(api, target)
    payload = await update_mapping(
        api,
        application_id,
        "USER",
        with_entries(
            {"path": f"{ACME}:costCode", "source": "CONSTANT", "value": "CC-42"},
            {"path": f"{ACME}:seats", "source": "CONSTANT", "value": "5"},
            {"path": f"{ACME}:vip", "source": "CONSTANT", "value": "TRUE"},
        ),
    )
    assert payload["errors"] == []
    entries = payload["provisioning"]["mapping"]["user"]["entries"]
    assert entries[-2:] == [
        {"path": f"{ACME}:seats", "source": "CONSTANT", "value": "5"},
        {"path": f"{ACME}:vip", "source": "CONSTANT", "value": "true"},
    ]
    user_id = await ada(api, application_id)

    account = await create_account(api, application_id, user_id)

    resource = target.user(account["scimId"])
    assert resource is not None
    assert resource[ACME] == {"costCode": "CC-42", "seats": 5, "vip": True}


def test_template_of_empty_fields_is_none() -> None:
    template = "{title} ({department})"

    assert render(template, {"title": None, "department": None}) is None
    assert render(template, {"title": "Countess", "department": None}) == (
        "Countess ()"
    )
    assert render("{givenName} {familyName}", {"givenName": "Ada"}) == "Ada"
    assert render("Staff", {}) == "Staff"


# Each invalid entry, appended to the defaults, and its expected error.
INVALID_ENTRIES = [
    pytest.param(
        {"path": "nickname2", "source": "FIELD", "value": "title"},
        "NOT_FOUND",
        "Attribute 'nickname2' is not in schema urn:ietf:params:scim:schemas:core:"
        "2.0:User; pick an attribute that Provisioning.schema lists, or remove the "
        "entry.",
        id="unknown attribute",
    ),
    pytest.param(
        {"path": f"{ENTERPRISE}:shoeSize", "source": "FIELD", "value": "title"},
        "NOT_FOUND",
        f"Attribute 'shoeSize' is not in schema {ENTERPRISE}; pick an attribute "
        "that Provisioning.schema lists, or remove the entry.",
        id="unknown extension attribute",
    ),
    pytest.param(
        {
            "path": "urn:example:unknown:2.0:User:badge",
            "source": "FIELD",
            "value": "id",
        },
        "NOT_FOUND",
        "Schema urn:example:unknown:2.0:User of attribute "
        "'urn:example:unknown:2.0:User:badge' is not among the user schemas the "
        "target published (urn:ietf:params:scim:schemas:core:2.0:User, "
        f"{ENTERPRISE}); use one of those URNs, or remove the entry.",
        id="unknown schema",
    ),
    pytest.param(
        {"path": "name.middle", "source": "FIELD", "value": "title"},
        "NOT_FOUND",
        "Attribute 'name' of schema urn:ietf:params:scim:schemas:core:2.0:User has "
        "no sub-attribute 'middle'; pick one of formatted, familyName, givenName, "
        "middleName, honorificPrefix, honorificSuffix.",
        id="unknown sub-attribute",
    ),
    pytest.param(
        {"path": "nickName", "source": "FIELD", "value": "active"},
        "INVALID",
        "Attribute 'nickName' of schema urn:ietf:params:scim:schemas:core:2.0:User "
        "is of type string, but field 'active' gives a boolean; map a user field or "
        "a constant of type string.",
        id="type mismatch",
    ),
    pytest.param(
        {"path": 'groups[type eq "direct"].value', "source": "FIELD", "value": "id"},
        "INVALID",
        "Attribute 'groups.value' of schema urn:ietf:params:scim:schemas:core:2.0:"
        "User is read-only, so the target sets it itself; remove the entry.",
        id="read-only",
    ),
    pytest.param(
        {"path": "name", "source": "FIELD", "value": "displayName"},
        "INVALID",
        "Attribute 'name' of schema urn:ietf:params:scim:schemas:core:2.0:User is "
        "complex; map its sub-attributes (formatted, familyName, givenName, "
        "middleName, honorificPrefix, honorificSuffix) one by one, such as "
        "name.value.",
        id="complex without sub-attribute",
    ),
    pytest.param(
        {"path": "phoneNumbers.value", "source": "FIELD", "value": "phoneNumber"},
        "INVALID",
        "Attribute 'phoneNumbers' of schema urn:ietf:params:scim:schemas:core:2.0:"
        "User is multi-valued; choose the value with a filter, such as "
        'phoneNumbers[type eq "work"].value.',
        id="multi-valued without filter",
    ),
    pytest.param(
        {"path": "nickName", "source": "TEMPLATE", "value": "{givenName} {nick}"},
        "INVALID",
        "Template '{givenName} {nick}' for 'nickName' uses unknown field nick; the "
        "valid fields are id, email, givenName, familyName, displayName, active, "
        "title, department, phoneNumber, preferredLanguage, employeeNumber.",
        id="unknown template field",
    ),
    pytest.param(
        {"path": "nickName", "source": "FIELD", "value": "nick"},
        "INVALID",
        "Field 'nick' mapped to 'nickName' is not a SmartLink user field; use one "
        "of id, email, givenName, familyName, displayName, active, title, "
        "department, phoneNumber, preferredLanguage, employeeNumber.",
        id="unknown field",
    ),
    pytest.param(
        {"path": "id", "source": "FIELD", "value": "id"},
        "INVALID",
        "Attribute 'id' of schema urn:ietf:params:scim:schemas:core:2.0:User is set "
        "by the target itself, so no mapping can write it; remove the entry.",
        id="server-assigned id",
    ),
    pytest.param(
        {"path": "groups.display", "source": "FIELD", "value": "email"},
        "INVALID",
        "Attribute 'groups.display' of schema urn:ietf:params:scim:schemas:core:2.0:"
        "User is read-only, so the target sets it itself; remove the entry.",
        id="read-only multi-valued",
    ),
    pytest.param(
        {"path": "userName", "source": "FIELD", "value": "employeeNumber"},
        "ALREADY_EXISTS",
        "Attribute 'userName' of schema urn:ietf:params:scim:schemas:core:2.0:User "
        "is mapped twice; remove one of the entries.",
        id="mapped twice",
    ),
]


@pytest.mark.parametrize(("entry", "code", "message"), INVALID_ENTRIES)
async def test_invalid_entry_rejected(
    api: GraphQLClient,
    scim_target: ScimTenant,
    entry: dict[str, str],
    code: str,
    message: str,
) -> None:
    application_id = await connected(api, scim_target)

    payload = await update_mapping(api, application_id, "USER", with_entries(entry))

    # Unknown fields and type mismatches are problems of the entry's value.
    value_problem = (
        message.startswith(("Field ", "Template ")) or "is of type" in message
    )
    part = "value" if value_problem else "path"
    assert payload["provisioning"] is None
    assert payload["errors"] == [
        {
            "code": code,
            "message": message,
            "field": ["entries", str(len(DEFAULT_USER_ENTRIES)), part],
        }
    ]
    mapping = await mapping_of(api, application_id)
    assert mapping["user"]["entries"] == DEFAULT_USER_ENTRIES


async def test_syntax_errors_listed_together(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)

    payload = await update_mapping(
        api,
        application_id,
        "USER",
        [
            {
                "path": "emails[type ne 'work'].value",
                "source": "FIELD",
                "value": "email",
            },
            {"path": "active", "source": "CONSTANT", "value": "yes"},
            {"path": "nickName", "source": "TEMPLATE", "value": "{givenName"},
            {"path": "title", "source": "FIELD", "value": "  "},
        ],
    )

    assert payload["errors"] == [
        {
            "code": "INVALID",
            "message": "Attribute path \"emails[type ne 'work'].value\" is invalid: "
            'its filter is not of the form [type eq "work"]. Write a path such as '
            'userName, name.givenName, emails[type eq "work"].value or '
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department.",
            "field": ["entries", "0", "path"],
        },
        {
            "code": "INVALID",
            "message": "Constant 'yes' is not a boolean; write true or false.",
            "field": ["entries", "1", "value"],
        },
        {
            "code": "INVALID",
            "message": "Template '{givenName' is invalid: expected '}' before end "
            "of string. Write fields in braces, such as {givenName} {familyName}, "
            "and double a literal brace.",
            "field": ["entries", "2", "value"],
        },
        {
            "code": "INVALID",
            "message": "The value of 'title' is empty; write a field name, a "
            "template or a constant, or remove the entry.",
            "field": ["entries", "3", "value"],
        },
    ]


async def test_required_attributes_must_be_mapped(
    api: GraphQLClient, acme: Scim2Server
) -> None:
    application_id = await connected(api, acme.tenant())
    entries = [e for e in DEFAULT_USER_ENTRIES if e["path"] != "userName"]
    entries.append({"path": f"{ACME}:seats", "source": "CONSTANT", "value": "2"})

    payload = await update_mapping(api, application_id, "USER", entries)

    assert payload["errors"] == [
        {
            "code": "REQUIRED",
            "message": "Attribute 'userName' of schema urn:ietf:params:scim:schemas:"
            "core:2.0:User is required, but no entry maps it; add an entry for "
            "userName.",
            "field": ["entries"],
        },
        {
            "code": "REQUIRED",
            "message": f"Attribute 'costCode' of schema {ACME} is required, but no "
            f"entry maps it; add an entry for {ACME}:costCode.",
            "field": ["entries"],
        },
    ]


async def test_read_only_extension_attribute_rejected(
    api: GraphQLClient, acme: Scim2Server
) -> None:
    application_id = await connected(api, acme.tenant())

    payload = await update_mapping(
        api,
        application_id,
        "USER",
        with_entries(
            {"path": f"{ACME}:costCode", "source": "CONSTANT", "value": "CC-1"},
            {"path": f"{ACME}:ticketId", "source": "FIELD", "value": "id"},
        ),
    )

    assert [e["message"] for e in payload["errors"]] == [
        f"Attribute 'ticketId' of schema {ACME} is read-only, so the target sets it "
        "itself; remove the entry."
    ]


async def test_reconnect_exposes_problems(
    api: GraphQLClient, scim_target: ScimTenant, acme: Scim2Server
) -> None:
    application_id = await connected(api, scim_target)
    department = {
        "path": f"{ENTERPRISE}:department",
        "source": "FIELD",
        "value": "department",
    }
    assert (
        await update_mapping(api, application_id, "USER", with_entries(department))
    )["errors"] == []
    assert (await mapping_of(api, application_id))["problems"] == []

    # The application moves to a target without the enterprise extension.
    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=acme.tenant().base_url,
        token=acme.token,
    )
    assert data["configureProvisioning"]["errors"] == []

    mapping = await mapping_of(api, application_id)
    assert mapping["problems"] == [
        {
            "kind": "USER",
            "code": "NOT_FOUND",
            "message": f"Schema {ENTERPRISE} of attribute '{ENTERPRISE}:department' "
            "is not among the user schemas the target published (urn:ietf:params:"
            f"scim:schemas:core:2.0:User, {ACME}); use one of those URNs, or remove "
            "the entry.",
            "path": f"{ENTERPRISE}:department",
            "schemaUrn": ENTERPRISE,
            "entryIndex": len(DEFAULT_USER_ENTRIES),
        }
    ]
    assert mapping["user"]["problems"] == [
        {"code": "NOT_FOUND", "path": f"{ENTERPRISE}:department"}
    ]
    # The saved mapping stays as it was, so the admin can fix it.
    assert mapping["user"]["entries"][-1] == department
    user_id = await ada(api, application_id)
    data = await api(PREVIEW, applicationId=application_id, userId=user_id)
    assert data["previewAccount"]["problems"] == [
        {
            "code": "NOT_FOUND",
            "message": mapping["problems"][0]["message"],
            "path": f"{ENTERPRISE}:department",
        }
    ]


async def test_target_without_schemas_uses_rfc(
    api: GraphQLClient, fake_scim: FakeScim
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    payload = await update_mapping(
        api,
        application_id,
        "USER",
        with_entries(
            {"path": f"{ENTERPRISE}:costCenter", "source": "CONSTANT", "value": "7"},
            {"path": "active2", "source": "FIELD", "value": "active"},
        ),
    )

    assert [e["message"] for e in payload["errors"]] == [
        "Attribute 'active2' is not in schema urn:ietf:params:scim:schemas:core:2.0:"
        "User; pick an attribute that Provisioning.schema lists, or remove the entry."
    ]
    mapping = await mapping_of(api, application_id)
    assert mapping["notice"] == (
        "The target published no /Schemas, so mappings are checked against the RFC "
        "7643 core User and Group schemas and the enterprise User extension. Check "
        "the target's documentation for what it accepts."
    )
    assert mapping["problems"] == []


async def test_group_members_not_mappable(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)

    payload = await update_mapping(
        api,
        application_id,
        "GROUP",
        [
            {"path": 'members[type eq "User"].value', "source": "FIELD", "value": "id"},
            {"path": "externalId", "source": "FIELD", "value": "id"},
        ],
    )

    group_urn = "urn:ietf:params:scim:schemas:core:2.0:Group"
    assert payload["errors"] == [
        {
            "code": "INVALID",
            "message": f"Attribute 'members' of schema {group_urn} lists the accounts "
            "of the folder's members, which SmartLink keeps in step itself; remove "
            "the entry.",
            "field": ["entries", "0", "path"],
        },
        {
            "code": "REQUIRED",
            "message": f"Attribute 'displayName' of schema {group_urn} is required, "
            "but no entry maps it; add an entry for displayName.",
            "field": ["entries"],
        },
    ]


async def test_put_update_sets_extension(
    api: GraphQLClient, put_only_target: ScimTenant, automation: None
) -> None:
    application_id = await connected(api, put_only_target)
    department = {
        "path": f"{ENTERPRISE}:department",
        "source": "FIELD",
        "value": "department",
    }
    payload = await update_mapping(
        api, application_id, "USER", with_entries(department)
    )
    assert payload["errors"] == []
    user_id = await ada(api, application_id)
    account = await create_account(api, application_id, user_id)
    before = put_only_target.user(account["scimId"])
    assert before is not None
    assert ENTERPRISE not in before
    await update_settings(api, application_id, userUpdated="AUTOMATIC")

    data = await api(UPDATE_USER, u=user_id, department="Engines")
    assert data["updateUser"]["errors"] == []
    await wait_until(outbox_settled, what="the update event")

    resource = put_only_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Engines"}
    assert ENTERPRISE in resource["schemas"]
    assert resource["userName"] == "ada@example.org"


AUDIT_LOG = """
query($applicationId: ID) {
  auditLog(applicationId: $applicationId, action: "updateAttributeMapping") {
    edges { node { tokenName objectIds changes } }
  }
}
"""


async def test_mapping_change_audited(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await connected(api, scim_target)
    entries = [
        {"path": "displayName", "source": "TEMPLATE", "value": "SL {name}"},
        {"path": "externalId", "source": "FIELD", "value": "id"},
    ]

    assert (await update_mapping(api, application_id, "GROUP", entries))["errors"] == []

    data = await api(AUDIT_LOG, applicationId=application_id)
    [entry] = [edge["node"] for edge in data["auditLog"]["edges"]]
    assert entry["tokenName"] == "tests"
    assert entry["objectIds"] == [application_id]
    assert entry["changes"] == {
        "group_mapping": {
            "old": [
                {"path": "displayName", "source": "FIELD", "value": "name"},
                {"path": "externalId", "source": "FIELD", "value": "id"},
            ],
            "new": entries,
        }
    }
