"""previewAccount: the request a create or an update would send, sending none."""

from __future__ import annotations

import pytest

from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
)
from tests.support.graphql import GraphQLClient
from tests.support.mapping import (
    ENTERPRISE,
    PREVIEW,
    update_mapping,
    with_entries,
)
from tests.support.scim2_server import USER_SCHEMA, ScimTenant

pytestmark = pytest.mark.usefixtures("job_worker")

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

UPDATE_USER = """
mutation($u: ID!, $department: String, $familyName: String) {
  updateUser(input: {userId: $u, department: $department, familyName: $familyName}) {
    errors { code message }
  }
}
"""

DEPARTMENT = {
    "path": f"{ENTERPRISE}:department",
    "source": "FIELD",
    "value": "department",
}


async def setup(api: GraphQLClient, target: ScimTenant) -> tuple[str, str]:
    """Connect, map the enterprise department, and give Ada access."""
    application_id = await create_application(api)
    await connect(api, application_id, target)
    payload = await update_mapping(
        api, application_id, "USER", with_entries(DEPARTMENT)
    )
    assert payload["errors"] == []
    user_id = await create_user(
        api, "ada@example.org", givenName="Ada", familyName="Lovelace"
    )
    data = await api(UPDATE_USER, u=user_id, department="Analytics")
    assert data["updateUser"]["errors"] == []
    await grant_access(api, user_id, application_id)
    return application_id, user_id


async def test_preview_of_create_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, scim_target)

    data = await api(PREVIEW, applicationId=application_id, userId=user_id)

    preview = data["previewAccount"]
    assert preview["action"] == "CREATE"
    assert preview["hasAccess"] is True
    assert preview["account"] is None
    assert preview["problems"] == []
    assert preview["notice"] is None
    assert preview["request"] == {
        "method": "POST",
        "path": "/Users",
        "body": {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "ada@example.org",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada Lovelace",
            "emails": [{"type": "work", "value": "ada@example.org", "primary": True}],
            "active": True,
            "externalId": node_uuid(user_id),
            ENTERPRISE: {"department": "Analytics"},
        },
    }
    assert scim_target.users() == []


async def test_preview_matches_created_account(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, scim_target)
    data = await api(PREVIEW, applicationId=application_id, userId=user_id)
    body = data["previewAccount"]["request"]["body"]

    account = await create_account(api, application_id, user_id)

    resource = scim_target.user(account["scimId"])
    assert resource is not None
    stored = {key: resource[key] for key in body}
    assert stored == body


async def test_preview_of_update_lists_patch(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, scim_target)
    account = await create_account(api, application_id, user_id)
    data = await api(UPDATE_USER, u=user_id, department="Engines", familyName="Byron")
    assert data["updateUser"]["errors"] == []

    data = await api(PREVIEW, applicationId=application_id, userId=user_id)

    preview = data["previewAccount"]
    assert preview["action"] == "UPDATE"
    assert preview["account"] == {
        "scimId": account["scimId"],
        "userName": "ada@example.org",
    }
    assert preview["request"] == {
        "method": "PATCH",
        "path": f"/Users/{account['scimId']}",
        "body": {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "path": "name.familyName", "value": "Byron"},
                {"op": "replace", "path": "displayName", "value": "Ada Byron"},
                {
                    "op": "replace",
                    "path": f"{ENTERPRISE}:department",
                    "value": "Engines",
                },
            ],
        },
    }
    resource = scim_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Analytics"}
    assert resource["name"]["familyName"] == "Lovelace"


async def test_preview_of_update_lists_put(
    api: GraphQLClient, put_only_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, put_only_target)
    account = await create_account(api, application_id, user_id)
    data = await api(UPDATE_USER, u=user_id, department="Engines")
    assert data["updateUser"]["errors"] == []

    data = await api(PREVIEW, applicationId=application_id, userId=user_id)

    request = data["previewAccount"]["request"]
    assert request["method"] == "PUT"
    assert request["path"] == f"/Users/{account['scimId']}"
    body = request["body"]
    assert body[ENTERPRISE] == {"department": "Engines"}
    assert body["id"] == account["scimId"]
    assert body["userName"] == "ada@example.org"
    assert "meta" not in body
    resource = put_only_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Analytics"}


async def test_preview_of_update_lists_remove(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, scim_target)
    account = await create_account(api, application_id, user_id)
    data = await api(UPDATE_USER, u=user_id, department="")
    assert data["updateUser"]["errors"] == []

    data = await api(PREVIEW, applicationId=application_id, userId=user_id)

    assert data["previewAccount"]["request"] == {
        "method": "PATCH",
        "path": f"/Users/{account['scimId']}",
        "body": {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f"{ENTERPRISE}:department"}],
        },
    }
    resource = scim_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Analytics"}


async def test_preview_of_put_leaves_out_cleared(
    api: GraphQLClient, put_only_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, put_only_target)
    account = await create_account(api, application_id, user_id)
    data = await api(UPDATE_USER, u=user_id, department="")
    assert data["updateUser"]["errors"] == []

    data = await api(PREVIEW, applicationId=application_id, userId=user_id)

    request = data["previewAccount"]["request"]
    assert request["method"] == "PUT"
    body = request["body"]
    assert ENTERPRISE not in body
    assert body["schemas"] == [USER_SCHEMA]
    assert body["userName"] == "ada@example.org"
    resource = put_only_target.user(account["scimId"])
    assert resource is not None
    assert resource[ENTERPRISE] == {"department": "Analytics"}


async def test_preview_of_account_in_step(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id, user_id = await setup(api, scim_target)
    await create_account(api, application_id, user_id)

    data = await api(PREVIEW, applicationId=application_id, userId=user_id)

    assert data["previewAccount"]["action"] == "NONE"
    assert data["previewAccount"]["request"] is None


async def test_preview_needs_connection(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_id = await create_user(api, "ada@example.org")

    body = await api.execute(PREVIEW, applicationId=application_id, userId=user_id)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_CONNECTED"
    assert error["message"] == (
        f"Application {application_id} is not connected to a SCIM "
        "endpoint; save a base URL and token in the Configuration tab first."
    )
