"""createAccount (the Access tab's button) against real scim2-server targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fixtures import (
    CREATE_ACCOUNT,
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import Scim2Server, ScimTenant

TABS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts {
          totalCount
          edges { node { id scimId userName email active externalId user { email } } }
        }
        access { edges { node { user { email } presentInApp account { scimId } } } }
        operations {
          totalCount
          edges {
            node {
              id action status trigger scimId attempts targetStatus error
              startedAt finishedAt user { email }
            }
          }
        }
      }
    }
  }
}
"""

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on ScimAccount { scimId user { email } }
    ... on ProvisioningOperation { action status }
  }
}
"""

UPDATE_EMAIL = """
mutation($userId: ID!, $email: String!) {
  updateUser(input: {userId: $userId, email: $email}) { errors { code message } }
}
"""


async def tabs(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    data = await api(TABS, id=application_id)
    provisioning: dict[str, Any] = data["node"]["provisioning"]
    return provisioning


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


@pytest.fixture
def own_server() -> Iterator[list[Scim2Server]]:
    """A scim2-server of the test's own, which the test may stop or replace.

    The list contains the running instance. A test that starts a replacement
    appends it, so that it is stopped too.
    """
    servers = [Scim2Server.start()]
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.stop()


async def test_create_account_posts_user(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(
        api, "ada@example.com", givenName="Ada", familyName="Lovelace"
    )
    await grant_access(api, ada, crm)
    await connect(api, crm, scim_target)

    account = await create_account(api, crm, ada)

    [resource] = scim_target.users()
    assert resource["userName"] == "ada@example.com"
    assert resource["name"]["givenName"] == "Ada"
    assert resource["name"]["familyName"] == "Lovelace"
    assert resource["emails"] == [
        {"value": "ada@example.com", "type": "work", "primary": True}
    ]
    assert resource["active"] is True
    assert resource["externalId"] == node_uuid(ada)
    assert account["scimId"] == resource["id"]
    assert account["userName"] == "ada@example.com"
    assert account["externalId"] == node_uuid(ada)
    assert account["user"] == {"id": ada, "email": "ada@example.com"}


async def test_create_account_updates_tabs_and_log(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    await connect(api, crm, scim_target)

    account = await create_account(api, crm, ada)
    provisioning = await tabs(api, crm)

    assert nodes(provisioning["accounts"]) == [
        {
            "id": account["id"],
            "scimId": account["scimId"],
            "userName": "ada@example.com",
            "email": "ada@example.com",
            "active": True,
            "externalId": node_uuid(ada),
            "user": {"email": "ada@example.com"},
        }
    ]
    assert nodes(provisioning["access"]) == [
        {
            "user": {"email": "ada@example.com"},
            "presentInApp": True,
            "account": {"scimId": account["scimId"]},
        }
    ]
    [operation] = nodes(provisioning["operations"])
    assert operation["action"] == "CREATE_ACCOUNT"
    assert operation["status"] == "SUCCEEDED"
    assert operation["trigger"] == "api:tests"
    assert operation["targetStatus"] == 201
    assert operation["scimId"] == account["scimId"]
    assert operation["attempts"] == 1
    assert operation["error"] is None
    assert operation["user"] == {"email": "ada@example.com"}
    assert operation["startedAt"] is not None
    assert operation["finishedAt"] is not None
    assert (await api(NODE, id=account["id"]))["node"] == {
        "__typename": "ScimAccount",
        "id": account["id"],
        "scimId": account["scimId"],
        "user": {"email": "ada@example.com"},
    }
    assert (await api(NODE, id=operation["id"]))["node"] == {
        "__typename": "ProvisioningOperation",
        "id": operation["id"],
        "action": "CREATE_ACCOUNT",
        "status": "SUCCEEDED",
    }


async def test_create_account_adopts_on_conflict(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    await connect(api, crm, scim_target)
    # Created after the refresh, so only the target's 409 reveals it.
    existing = scim_target.create_user("Ada@Example.com")

    account = await create_account(api, crm, ada)

    assert account["scimId"] == existing["id"]
    assert account["user"] == {"id": ada, "email": "ada@example.com"}
    assert [user["id"] for user in scim_target.users()] == [existing["id"]]
    provisioning = await tabs(api, crm)
    assert [a["scimId"] for a in nodes(provisioning["accounts"])] == [existing["id"]]
    assert nodes(provisioning["access"])[0]["presentInApp"] is True
    [operation] = nodes(provisioning["operations"])
    assert operation["status"] == "SUCCEEDED"
    assert operation["targetStatus"] == 409
    assert operation["scimId"] == existing["id"]


async def test_create_account_links_mirrored_match(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    existing = scim_target.create_user(
        "alovelace", emails=[{"value": "ADA@example.com", "primary": True}]
    )
    await connect(api, crm, scim_target)

    account = await create_account(api, crm, ada)

    assert account["scimId"] == existing["id"]
    assert account["user"] == {"id": ada, "email": "ada@example.com"}
    assert [user["id"] for user in scim_target.users()] == [existing["id"]]
    [operation] = nodes((await tabs(api, crm))["operations"])
    assert operation["action"] == "LINK_ACCOUNT"
    assert operation["status"] == "SUCCEEDED"
    assert operation["trigger"] == "api:tests"
    assert operation["targetStatus"] is None
    assert operation["scimId"] == existing["id"]


async def test_create_account_twice(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    await connect(api, crm, scim_target)

    first = await create_account(api, crm, ada)
    second = await create_account(api, crm, ada)

    assert second == first
    assert len(scim_target.users()) == 1
    provisioning = await tabs(api, crm)
    assert provisioning["accounts"]["totalCount"] == 1
    assert provisioning["operations"]["totalCount"] == 1


async def test_create_account_without_access(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await connect(api, crm, scim_target)

    data = await api(CREATE_ACCOUNT, applicationId=crm, userId=ada)

    payload = data["createAccount"]
    assert payload["account"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NO_ACCESS", ["userId"])
    ]
    assert "'ada@example.com'" in payload["errors"][0]["message"]
    assert "grant access" in payload["errors"][0]["message"]
    assert scim_target.users() == []
    provisioning = await tabs(api, crm)
    assert provisioning["accounts"]["totalCount"] == 0
    assert provisioning["operations"]["totalCount"] == 0


async def test_create_account_not_connected(api: GraphQLClient) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)

    data = await api(CREATE_ACCOUNT, applicationId=crm, userId=ada)

    payload = data["createAccount"]
    assert payload["account"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_CONNECTED", ["applicationId"])
    ]
    assert "Configuration tab" in payload["errors"][0]["message"]
    assert (await tabs(api, crm))["operations"]["totalCount"] == 0


async def test_create_account_linked_elsewhere(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    first = await create_user(api, "shared@example.com")
    await grant_access(api, first, crm)
    await connect(api, crm, scim_target)
    first_account = await create_account(api, crm, first)
    # The first user moves to another address and a new user takes the old
    # one, so the POST for the new user conflicts with the first user's account.
    await api(UPDATE_EMAIL, userId=first, email="first@example.com")
    second = await create_user(api, "shared@example.com")
    await grant_access(api, second, crm)

    data = await api(CREATE_ACCOUNT, applicationId=crm, userId=second)

    payload = data["createAccount"]
    assert payload["account"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_LINKED", ["userId"])
    ]
    message = payload["errors"][0]["message"]
    assert first_account["scimId"] in message
    assert "'first@example.com'" in message
    assert len(scim_target.users()) == 1
    provisioning = await tabs(api, crm)
    assert nodes(provisioning["accounts"])[0]["user"] == {"email": "first@example.com"}
    access = [
        (entry["user"]["email"], entry["presentInApp"])
        for entry in nodes(provisioning["access"])
    ]
    assert access == [("first@example.com", True), ("shared@example.com", False)]
    assert provisioning["operations"]["totalCount"] == 2
    failed = nodes(provisioning["operations"])[0]
    assert failed["action"] == "CREATE_ACCOUNT"
    assert failed["status"] == "FAILED"
    assert failed["targetStatus"] == 409
    assert failed["error"] == message


async def test_create_account_target_unreachable(
    api: GraphQLClient, own_server: list[Scim2Server], job_worker: None
) -> None:
    target = own_server[0].tenant()
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    await connect(api, crm, target)
    own_server[0].stop()

    data = await api(CREATE_ACCOUNT, applicationId=crm, userId=ada)

    payload = data["createAccount"]
    assert payload["account"] is None
    assert [e["code"] for e in payload["errors"]] == ["TARGET_UNREACHABLE"]
    message = payload["errors"][0]["message"]
    assert "'ada@example.com'" in message
    assert f"{target.base_url}/Users" in message
    assert target.token not in message
    provisioning = await tabs(api, crm)
    assert provisioning["accounts"]["totalCount"] == 0
    assert nodes(provisioning["access"])[0]["presentInApp"] is False
    [operation] = nodes(provisioning["operations"])
    assert operation["action"] == "CREATE_ACCOUNT"
    assert operation["status"] == "FAILED"
    assert operation["targetStatus"] is None
    assert operation["error"] == message
    assert operation["finishedAt"] is not None


async def test_create_account_target_rejects_token(
    api: GraphQLClient, own_server: list[Scim2Server], job_worker: None
) -> None:
    target = own_server[0].tenant()
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    await connect(api, crm, target)
    # The target comes back on the same address with another token, so the
    # saved token is now rejected with 401.
    own_server[0].stop()
    replacement = Scim2Server.start(
        port=own_server[0].port, token="rotated-" + target.token
    )
    own_server.append(replacement)

    data = await api(CREATE_ACCOUNT, applicationId=crm, userId=ada)

    payload = data["createAccount"]
    assert [e["code"] for e in payload["errors"]] == ["TARGET_UNAUTHORIZED"]
    message = payload["errors"][0]["message"]
    assert "returned 401" in message
    assert "token" in message
    assert target.token not in message
    assert ScimTenant(target.base_url, replacement.token).users() == []
    [operation] = nodes((await tabs(api, crm))["operations"])
    assert operation["status"] == "FAILED"
    assert operation["targetStatus"] == 401
    assert operation["error"] == message
