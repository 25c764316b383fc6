"""The Accounts tab's row actions against real SCIM targets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

from domain.db import session_scope
from domain.models import ScimConnection
from tests.support.fixtures import (
    account_ids,
    connect,
    create_application,
    create_user,
    operations,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant, free_port

CREATE_MEMBERSHIP = """
mutation($accountId: ID!) {
  createMembershipFromAccount(input: {accountId: $accountId}) {
    user {
      id email givenName familyName active
      applications { edges { node { id } } }
    }
    account { id userName user { id } }
    errors { code message field }
  }
}
"""

ASSOCIATE = """
mutation($accountId: ID!, $userId: ID!) {
  associateMembership(input: {accountId: $accountId, userId: $userId}) {
    user { id email }
    account { id userName user { id } }
    errors { code message field }
  }
}
"""

DELETE = """
mutation($accountId: ID!) {
  deleteAccount(input: {accountId: $accountId}) {
    account { id userName }
    user { email }
    alreadyDeleted
    errors { code message field }
  }
}
"""

ACCOUNTS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(first: 100) { edges { node { userName user { email } } } }
      }
    }
  }
}
"""

USERS = """
query { users(first: 100) { totalCount edges { node { email } } } }
"""

USER_APPLICATIONS = """
query($id: ID!) {
  node(id: $id) { ... on User { applications { edges { node { id } } } } }
}
"""

ANN = {
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [{"value": "ann@example.com", "type": "work", "primary": True}],
    "active": True,
}


async def _connected(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    run = await connect(api, application_id, target)
    assert run["status"] == "SUCCEEDED"
    return application_id


async def _links(api: GraphQLClient, application_id: str) -> dict[str, str | None]:
    """Return each mirrored account's linked user email, by userName."""
    data = await api(ACCOUNTS, id=application_id)
    edges = data["node"]["provisioning"]["accounts"]["edges"]
    return {
        e["node"]["userName"]: (e["node"]["user"] or {}).get("email") for e in edges
    }


async def _user_emails(api: GraphQLClient) -> list[str]:
    data = await api(USERS)
    return [edge["node"]["email"] for edge in data["users"]["edges"]]


async def test_create_membership_from_account(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    target.create_user("ann.lee", **ANN)
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["ann.lee"]

    data = await api(CREATE_MEMBERSHIP, accountId=account_id)

    payload = data["createMembershipFromAccount"]
    assert payload["errors"] == []
    user = payload["user"]
    assert user["email"] == "ann@example.com"
    assert user["givenName"] == "Ann"
    assert user["familyName"] == "Lee"
    assert user["active"] is True
    assert user["applications"]["edges"] == [{"node": {"id": application_id}}]
    assert payload["account"]["user"] == {"id": user["id"]}
    assert await _links(api, application_id) == {"ann.lee": "ann@example.com"}
    log = await operations(api, application_id)
    assert [(o["action"], o["status"], o["attempts"]) for o in log] == [
        ("LINK_ACCOUNT", "SUCCEEDED", 0)
    ]
    assert log[0]["user"] == {"email": "ann@example.com"}
    assert log[0]["scimId"] == target.users()[0]["id"]


async def test_create_membership_twice_returns_same_user(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    target.create_user("ann.lee", **ANN)
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["ann.lee"]

    first = await api(CREATE_MEMBERSHIP, accountId=account_id)
    second = await api(CREATE_MEMBERSHIP, accountId=account_id)

    assert second["createMembershipFromAccount"]["errors"] == []
    assert (
        second["createMembershipFromAccount"]["user"]["id"]
        == first["createMembershipFromAccount"]["user"]["id"]
    )
    assert await _user_emails(api) == ["ann@example.com"]
    assert len(await operations(api, application_id)) == 1


@pytest.mark.parametrize(
    ("user_name", "attributes", "expected"),
    [
        (
            "primary.first",
            {
                "emails": [
                    {"value": "work@example.com", "type": "work"},
                    {"value": "home@example.com", "type": "home", "primary": True},
                ]
            },
            "home@example.com",
        ),
        (
            "work.second",
            {
                "emails": [
                    {"value": "other@example.com", "type": "other"},
                    {"value": "work@example.com", "type": "work"},
                ]
            },
            "work@example.com",
        ),
        (
            "name@example.com",
            {"emails": [{"value": "home@example.com", "type": "home"}]},
            "name@example.com",
        ),
    ],
)
async def test_membership_email_order(
    api: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
    user_name: str,
    attributes: dict[str, Any],
    expected: str,
) -> None:
    scim_target.create_user(user_name, **attributes)
    application_id = await _connected(api, scim_target)
    account_id = (await account_ids(api, application_id))[user_name]

    data = await api(CREATE_MEMBERSHIP, accountId=account_id)

    assert data["createMembershipFromAccount"]["errors"] == []
    assert data["createMembershipFromAccount"]["user"]["email"] == expected


async def test_membership_without_email_rejected(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    scim_target.create_user(
        "jdoe", emails=[{"value": "home@example.com", "type": "home"}]
    )
    application_id = await _connected(api, scim_target)
    account_id = (await account_ids(api, application_id))["jdoe"]

    data = await api(CREATE_MEMBERSHIP, accountId=account_id)

    errors = data["createMembershipFromAccount"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["accountId"])]
    assert "'jdoe'" in errors[0]["message"]
    assert "associateMembership" in errors[0]["message"]
    assert data["createMembershipFromAccount"]["user"] is None
    assert await _user_emails(api) == []
    assert await _links(api, application_id) == {"jdoe": None}
    assert await operations(api, application_id) == []


async def test_membership_email_taken_rejected(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    owner_id = await create_user(api, "Ann@example.com", givenName="Ann")
    target.create_user("ann.lee", **ANN)
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["ann.lee"]

    data = await api(CREATE_MEMBERSHIP, accountId=account_id)

    errors = data["createMembershipFromAccount"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("ALREADY_EXISTS", ["accountId"])
    ]
    assert errors[0]["message"] == (
        "Email 'ann@example.com' of account 'ann.lee' already belongs to user "
        f"'Ann@example.com' (Ann, {owner_id}); link the account to that user with "
        "associateMembership instead."
    )
    assert await _user_emails(api) == ["Ann@example.com"]
    assert await _links(api, application_id) == {"ann.lee": None}
    owner = await api(USER_APPLICATIONS, id=owner_id)
    assert owner["node"]["applications"]["edges"] == []
    assert await operations(api, application_id) == []


async def test_associate_membership(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    user_id = await create_user(api, "ann@example.com")
    target.create_user("a.lee")
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]

    data = await api(ASSOCIATE, accountId=account_id, userId=user_id)

    payload = data["associateMembership"]
    assert payload["errors"] == []
    assert payload["user"] == {"id": user_id, "email": "ann@example.com"}
    assert payload["account"]["user"] == {"id": user_id}
    assert await _links(api, application_id) == {"a.lee": "ann@example.com"}
    log = await operations(api, application_id)
    assert [(o["action"], o["status"]) for o in log] == [("LINK_ACCOUNT", "SUCCEEDED")]


async def test_associate_linked_account_rejected(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    ann_id = await create_user(api, "ann@example.com")
    bob_id = await create_user(api, "bob@example.com")
    target.create_user("shared")
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["shared"]
    await api(ASSOCIATE, accountId=account_id, userId=ann_id)

    data = await api(ASSOCIATE, accountId=account_id, userId=bob_id)

    errors = data["associateMembership"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("ALREADY_LINKED", ["accountId"])
    ]
    assert "'ann@example.com'" in errors[0]["message"]
    assert await _links(api, application_id) == {"shared": "ann@example.com"}
    assert len(await operations(api, application_id)) == 1


async def test_associate_linked_user_rejected(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    user_id = await create_user(api, "ann@example.com")
    target.create_user("first")
    target.create_user("second")
    application_id = await _connected(api, target)
    accounts = await account_ids(api, application_id)
    await api(ASSOCIATE, accountId=accounts["first"], userId=user_id)

    data = await api(ASSOCIATE, accountId=accounts["second"], userId=user_id)

    errors = data["associateMembership"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("ALREADY_LINKED", ["userId"])]
    assert "'first'" in errors[0]["message"]
    assert await _links(api, application_id) == {
        "first": "ann@example.com",
        "second": None,
    }
    assert len(await operations(api, application_id)) == 1


async def test_associate_same_pair_twice(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    user_id = await create_user(api, "ann@example.com")
    target.create_user("a.lee")
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]
    await api(ASSOCIATE, accountId=account_id, userId=user_id)

    data = await api(ASSOCIATE, accountId=account_id, userId=user_id)

    assert data["associateMembership"]["errors"] == []
    assert len(await operations(api, application_id)) == 1


async def test_delete_account(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    user_id = await create_user(api, "ann@example.com")
    scim_id = target.create_user("a.lee")["id"]
    target.create_user("b.kim")
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]
    await api(ASSOCIATE, accountId=account_id, userId=user_id)

    data = await api(DELETE, accountId=account_id)

    payload = data["deleteAccount"]
    assert payload["errors"] == []
    assert payload["alreadyDeleted"] is False
    assert payload["account"] == {"id": account_id, "userName": "a.lee"}
    assert payload["user"] == {"email": "ann@example.com"}
    assert target.user(scim_id) is None
    assert [u["userName"] for u in target.users()] == ["b.kim"]
    assert await _links(api, application_id) == {"b.kim": None}
    log = await operations(api, application_id)
    delete = log[0]
    assert (delete["action"], delete["status"]) == ("DELETE_ACCOUNT", "SUCCEEDED")
    assert delete["targetStatus"] == 204
    assert delete["scimId"] == scim_id
    assert delete["user"] == {"email": "ann@example.com"}
    assert delete["detail"] is None
    assert await _user_emails(api) == ["ann@example.com"]


async def test_delete_account_already_gone(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    scim_id = target.create_user("a.lee")["id"]
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]
    target.delete_user(scim_id)

    data = await api(DELETE, accountId=account_id)

    payload = data["deleteAccount"]
    assert payload["errors"] == []
    assert payload["alreadyDeleted"] is True
    assert await _links(api, application_id) == {}
    [delete] = await operations(api, application_id)
    assert (delete["action"], delete["status"]) == ("DELETE_ACCOUNT", "SUCCEEDED")
    assert delete["targetStatus"] == 404
    assert delete["detail"] == (
        "The target no longer had the account; it was removed from the mirror."
    )


async def test_delete_account_twice(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    target.create_user("a.lee")
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]
    await api(DELETE, accountId=account_id)

    data = await api(DELETE, accountId=account_id)

    errors = data["deleteAccount"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["accountId"])]
    assert len(await operations(api, application_id)) == 1


async def test_delete_account_unreachable_keeps_it(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    scim_id = target.create_user("a.lee")["id"]
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]
    down = f"http://127.0.0.1:{free_port()}/scim/v2"
    async with session_scope() as session:
        connection = (await session.exec(select(ScimConnection))).one()
        connection.base_url = down

    data = await api(DELETE, accountId=account_id)

    errors = data["deleteAccount"]["errors"]
    assert [e["code"] for e in errors] == ["TARGET_UNREACHABLE"]
    assert "'a.lee'" in errors[0]["message"]
    assert target.user(scim_id) is not None
    assert await _links(api, application_id) == {"a.lee": None}
    [delete] = await operations(api, application_id)
    assert (delete["action"], delete["status"]) == ("DELETE_ACCOUNT", "FAILED")
    assert delete["targetStatus"] is None
    assert delete["error"] == errors[0]["message"]
    assert target.token not in delete["error"]


async def test_delete_account_twice_at_once(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    target.create_user("a.lee")
    application_id = await _connected(api, target)
    account_id = (await account_ids(api, application_id))["a.lee"]

    results = await asyncio.gather(
        api(DELETE, accountId=account_id), api(DELETE, accountId=account_id)
    )

    payloads = [result["deleteAccount"] for result in results]
    deleted = [p for p in payloads if not p["errors"]]
    rejected = [e["code"] for p in payloads for e in p["errors"]]
    assert len(deleted) == 1
    assert deleted[0]["alreadyDeleted"] is False
    assert rejected in (["IN_PROGRESS"], ["NOT_FOUND"])
    assert target.users() == []
    log = await operations(api, application_id)
    assert [(o["action"], o["status"]) for o in log] == [
        ("DELETE_ACCOUNT", "SUCCEEDED")
    ]
