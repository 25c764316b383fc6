"""The target's ResourceTypes decide which extensions users and groups take.

The real target is scim2-server serving a vendor HR extension, required for
Users, and a Team extension for Groups, through `--schema` and
`--resource-type`. Neither URN ends in User or Group. The fake target serves
what scim2-server cannot: a garbled /ResourceTypes and another endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.scim.payloads import GROUP_SCHEMA, USER_SCHEMA
from domain.scim.resource_types import ResourceTypes, SchemaExtension
from tests.support.fake_scim import FakeScim, default_resource_types
from tests.support.fixtures import (
    add_application_to_folder,
    connect,
    create_account,
    create_application,
    create_folder,
    create_user,
    grant_access,
    node_uuid,
)
from tests.support.graphql import GraphQLClient
from tests.support.mapping import (
    DEFAULT_USER_ENTRIES,
    ENTERPRISE,
    extended_server,
    extension_attribute,
    mapping_of,
    update_mapping,
    with_entries,
)
from tests.support.scim2_server import Scim2Server, ScimTenant

pytestmark = pytest.mark.usefixtures("job_worker")

HR = "urn:acme:params:scim:schemas:extension:hr:2.0:Employee"
TEAM = "urn:acme:params:scim:schemas:extension:hr:2.0:Team"

HR_SCHEMA = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": HR,
    "name": "Employee",
    "description": "Acme HR attributes of an employee",
    "attributes": [
        extension_attribute("costCenter", "string"),
        extension_attribute("badge", "string"),
    ],
}

TEAM_SCHEMA = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": TEAM,
    "name": "Team",
    "description": "Acme HR attributes of a team",
    "attributes": [extension_attribute("region", "string")],
}

SCHEMA_NOTICE = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        schema { notice userAttributes { path } groupAttributes { path } }
      }
    }
  }
}
"""

CREATE_GROUP = """
mutation($applicationId: ID!, $folderId: ID!) {
  createGroup(input: {applicationId: $applicationId, folderId: $folderId}) {
    group { scimId } errors { code message }
  }
}
"""

HR_REQUIRED = (
    f"The target's ResourceType 'User' requires extension {HR}, but no entry "
    "maps an attribute of it; add an entry for one of its attributes "
    f"(costCenter, badge), such as {HR}:costCenter."
)

COST_CENTER = {"path": f"{HR}:costCenter", "source": "CONSTANT", "value": "CC-7"}


@pytest.fixture(scope="module")
def hr(
    scim2_server: Scim2Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scim2Server]:
    server = extended_server(
        scim2_server,
        tmp_path_factory.mktemp("hr"),
        [HR_SCHEMA, TEAM_SCHEMA],
        {
            "User": [
                {"schema": ENTERPRISE, "required": False},
                {"schema": HR, "required": True},
            ],
            "Group": [{"schema": TEAM, "required": False}],
        },
    )
    yield server
    server.stop()


async def connected(api: GraphQLClient, target: ScimTenant | FakeScim) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)  # type: ignore[arg-type]
    return application_id


async def schema_of(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    data = await api(SCHEMA_NOTICE, id=application_id)
    schema: dict[str, Any] = data["node"]["provisioning"]["schema"]
    return schema


async def provision_ada(
    api: GraphQLClient, application_id: str
) -> tuple[str, dict[str, Any]]:
    """Create a user with access and her account; return her id and the account."""
    user_id = await create_user(api, "ada@example.org", givenName="Ada")
    await grant_access(api, user_id, application_id)
    return user_id, await create_account(api, application_id, user_id)


def posted_user(fake_scim: FakeScim) -> dict[str, Any]:
    """Return the body of the one POST /Users the fake received."""
    [post] = fake_scim.requests_to("/Users", "POST")
    assert post.json is not None
    body: dict[str, Any] = post.json
    return body


async def test_extensions_listed_by_type(api: GraphQLClient, hr: Scim2Server) -> None:
    application_id = await connected(api, hr.tenant())

    schema = await schema_of(api, application_id)

    users = {a["path"] for a in schema["userAttributes"]}
    groups = {a["path"] for a in schema["groupAttributes"]}
    assert f"{HR}:costCenter" in users
    assert f"{ENTERPRISE}:department" in users
    assert f"{TEAM}:region" not in users
    assert f"{TEAM}:region" in groups
    assert f"{HR}:costCenter" not in groups
    assert schema["notice"] is None


async def test_required_extension_enforced(api: GraphQLClient, hr: Scim2Server) -> None:
    target = hr.tenant()
    application_id = await connected(api, target)

    payload = await update_mapping(api, application_id, "USER", DEFAULT_USER_ENTRIES)

    assert payload["errors"] == [
        {"code": "REQUIRED", "message": HR_REQUIRED, "field": ["entries"]}
    ]
    mapping = await mapping_of(api, application_id)
    assert mapping["user"]["problems"] == [{"code": "REQUIRED", "path": HR}]

    payload = await update_mapping(
        api, application_id, "USER", with_entries(COST_CENTER)
    )
    assert payload["errors"] == []
    _user_id, account = await provision_ada(api, application_id)

    resource = target.user(account["scimId"])
    assert resource is not None
    assert resource[HR] == {"costCenter": "CC-7"}
    assert HR in resource["schemas"]
    assert ENTERPRISE not in resource["schemas"]


async def test_group_extension_not_for_users(
    api: GraphQLClient, hr: Scim2Server
) -> None:
    target = hr.tenant()
    application_id = await connected(api, target)
    region = {"path": f"{TEAM}:region", "source": "CONSTANT", "value": "EMEA"}

    payload = await update_mapping(
        api, application_id, "USER", with_entries(COST_CENTER, region)
    )

    assert [e["message"] for e in payload["errors"]] == [
        f"Schema {TEAM} of attribute '{TEAM}:region' is not among the user "
        f"schemas the target published ({USER_SCHEMA}, {ENTERPRISE}, {HR}); use "
        "one of those URNs, or remove the entry."
    ]

    entries = [
        {"path": "displayName", "source": "FIELD", "value": "name"},
        {"path": "externalId", "source": "FIELD", "value": "id"},
        region,
    ]
    assert (await update_mapping(api, application_id, "GROUP", entries))["errors"] == []
    folder_id = await create_folder(api, "Staff")
    await add_application_to_folder(api, folder_id, application_id)
    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)
    assert data["createGroup"]["errors"] == []

    group = target.group(data["createGroup"]["group"]["scimId"])
    assert group is not None
    assert group[TEAM] == {"region": "EMEA"}
    assert TEAM in group["schemas"]


def vendor_fake(fake_scim: FakeScim, *, required: bool) -> None:
    """Make the fake publish the HR schema as an extension of its User type."""
    fake_scim.schemas = [HR_SCHEMA]
    fake_scim.resource_types = default_resource_types()
    fake_scim.resource_types[0]["schemaExtensions"] = [
        {"schema": HR, "required": required}
    ]


async def test_fake_vendor_extension_body(
    api: GraphQLClient, fake_scim: FakeScim
) -> None:
    vendor_fake(fake_scim, required=True)
    application_id = await connected(api, fake_scim)
    # The admin writes the URN in lowercase, but the body uses the target's spelling.
    badge = {"path": f"{HR.lower()}:badge", "source": "FIELD", "value": "id"}

    rejected = await update_mapping(api, application_id, "USER", DEFAULT_USER_ENTRIES)
    saved = await update_mapping(api, application_id, "USER", with_entries(badge))

    assert [e["message"] for e in rejected["errors"]] == [HR_REQUIRED]
    assert saved["errors"] == []
    user_id, _account = await provision_ada(api, application_id)
    body = posted_user(fake_scim)
    assert body["schemas"] == [USER_SCHEMA, HR]
    assert body[HR] == {"badge": node_uuid(user_id)}
    assert HR.lower() not in body


async def test_fake_optional_extension_not_listed(
    api: GraphQLClient, fake_scim: FakeScim
) -> None:
    vendor_fake(fake_scim, required=False)
    application_id = await connected(api, fake_scim)

    payload = await update_mapping(api, application_id, "USER", DEFAULT_USER_ENTRIES)

    assert payload["errors"] == []
    await provision_ada(api, application_id)
    body = posted_user(fake_scim)
    assert body["schemas"] == [USER_SCHEMA]
    assert HR not in body


async def test_garbled_resource_types_fall_back(
    api: GraphQLClient, fake_scim: FakeScim
) -> None:
    fake_scim.schemas = [HR_SCHEMA, TEAM_SCHEMA]
    fake_scim.resource_types = [
        "User",
        {
            "name": "User",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "schemaExtensions": HR,
        },
    ]  # type: ignore[list-item]
    application_id = await connected(api, fake_scim)

    schema = await schema_of(api, application_id)
    payload = await update_mapping(
        api, application_id, "USER", with_entries(COST_CENTER)
    )

    # Neither URN ends in Group, so the guessed assignment offers both to users.
    users = {a["path"] for a in schema["userAttributes"]}
    assert f"{HR}:costCenter" in users
    assert f"{TEAM}:region" in users
    assert payload["errors"] == []
    assert schema["notice"] == (
        f"The target's /Schemas lacks {USER_SCHEMA} and {GROUP_SCHEMA}, so RFC "
        "7643's definition is used for it. The schemaExtensions of the target's "
        f"ResourceType 'User' for {USER_SCHEMA} is not a list. The target's "
        f"/ResourceTypes has no type with schema {GROUP_SCHEMA}. So for user and "
        "group mappings, extension schemas whose URN ends in Group are taken for "
        "groups and the others for users."
    )
    assert (await mapping_of(api, application_id))["notice"] == schema["notice"]


async def test_other_endpoint_noticed(api: GraphQLClient, fake_scim: FakeScim) -> None:
    vendor_fake(fake_scim, required=False)
    fake_scim.resource_types[0]["endpoint"] = "/Accounts"  # type: ignore[index]
    application_id = await connected(api, fake_scim)

    schema = await schema_of(api, application_id)

    assert schema["notice"] == (
        f"The target's /Schemas lacks {USER_SCHEMA} and {GROUP_SCHEMA}, so RFC "
        "7643's definition is used for it. The target's ResourceType 'User' is "
        "served at /Accounts, but SmartLink sends its requests to /Users; ask "
        "the application's vendor whether /Users serves it too."
    )
    assert f"{HR}:badge" in {a["path"] for a in schema["userAttributes"]}


# Published /ResourceTypes bodies and the User extensions read from them.
PUBLISHED = [
    pytest.param(
        {"Resources": [{"schema": USER_SCHEMA, "endpoint": "/Users"}]},
        (),
        id="list response",
    ),
    pytest.param(
        [
            {
                "schema": USER_SCHEMA.upper(),
                "endpoint": "Users",
                "schemaExtensions": [
                    {"schema": HR, "required": "true"},
                    {"schema": HR.lower(), "required": False},
                    {"schema": ENTERPRISE},
                ],
            }
        ],
        (SchemaExtension(HR, True), SchemaExtension(ENTERPRISE, False)),
        id="list with duplicate and string flag",
    ),
]


@pytest.mark.parametrize(("published", "extensions"), PUBLISHED)
def test_resource_types_parsed(
    published: Any, extensions: tuple[SchemaExtension, ...]
) -> None:
    types = ResourceTypes.from_documents(published)

    assert types.user is not None
    assert types.user.extensions == extensions
    assert types.group is None
    assert types.problems == (
        f"The target's /ResourceTypes has no type with schema {GROUP_SCHEMA}.",
    )


@pytest.mark.parametrize(
    "published",
    [None, [], {"Resources": "User"}, ["User"], [{"schema": USER_SCHEMA}]],
    ids=["none", "empty", "resources not a list", "not objects", "no endpoint"],
)
def test_unusable_resource_types_missing(published: Any) -> None:
    types = ResourceTypes.from_documents(published)

    assert types.user is None
    assert types.group is None
    assert types.problems
