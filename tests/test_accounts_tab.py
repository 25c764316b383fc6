"""The Accounts tab's suggestions and the provisioning log's filters."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from strawberry import relay

from domain.db import session_scope
from domain.models import ScimConnection
from tests.support.fixtures import (
    account_ids,
    connect,
    create_application,
    create_user,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant, free_port

ACCOUNTS = """
query($id: ID!, $suggested: Boolean) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(first: 100, suggested: $suggested) {
          totalCount
          edges { node { userName user { email } suggestedUser { email } } }
        }
      }
    }
  }
}
"""

ASSOCIATE = """
mutation($accountId: ID!, $userId: ID!) {
  associateMembership(input: {accountId: $accountId, userId: $userId}) {
    errors { code message }
  }
}
"""

DELETE = """
mutation($accountId: ID!) {
  deleteAccount(input: {accountId: $accountId}) { errors { code } }
}
"""

OPERATIONS = """
query($id: ID!, $status: OperationStatus) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations(first: 10, status: $status) {
          totalCount
          edges { node { action status } }
        }
      }
    }
  }
}
"""


async def _rows(
    api: GraphQLClient, application_id: str, suggested: bool | None = None
) -> list[tuple[str, str | None, str | None]]:
    """Return (userName, linked user, suggested user) per account row."""
    data = await api(ACCOUNTS, id=application_id, suggested=suggested)
    rows = []
    for edge in data["node"]["provisioning"]["accounts"]["edges"]:
        node = edge["node"]
        rows.append(
            (
                node["userName"],
                (node["user"] or {}).get("email"),
                (node["suggestedUser"] or {}).get("email"),
            )
        )
    return rows


async def test_accounts_suggest_users(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    ann_id = await create_user(api, "ann@example.com")
    await create_user(api, "Bob@Example.com")
    await create_user(api, "carol@example.com")
    erin_id = await create_user(api, "erin@example.com")
    ann_uuid = relay.GlobalID.from_id(ann_id).node_id
    scim_target.create_user("a-by-external-id", externalId=ann_uuid)
    scim_target.create_user("bob@example.com")
    scim_target.create_user(
        "c.by.email", emails=[{"value": "CAROL@example.com", "type": "work"}]
    )
    scim_target.create_user("dave")
    scim_target.create_user(
        "e.second", emails=[{"value": "erin@example.com", "type": "work"}]
    )
    scim_target.create_user("erin@example.com")
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    erin_account = (await account_ids(api, application_id))["erin@example.com"]
    await api(ASSOCIATE, accountId=erin_account, userId=erin_id)

    rows = await _rows(api, application_id)
    with_suggestion = await _rows(api, application_id, suggested=True)
    without = await _rows(api, application_id, suggested=False)

    assert rows == [
        ("a-by-external-id", None, "ann@example.com"),
        ("bob@example.com", None, "Bob@Example.com"),
        ("c.by.email", None, "carol@example.com"),
        ("dave", None, None),
        ("e.second", None, None),
        ("erin@example.com", "erin@example.com", None),
    ]
    assert [row[0] for row in with_suggestion] == [
        "a-by-external-id",
        "bob@example.com",
        "c.by.email",
    ]
    assert [row[0] for row in without] == ["dave", "e.second", "erin@example.com"]


async def test_external_id_beats_email_suggestion(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    ann_id = await create_user(api, "ann@example.com")
    await create_user(api, "other@example.com")
    scim_target.create_user(
        "other@example.com", externalId=relay.GlobalID.from_id(ann_id).node_id
    )
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)

    assert await _rows(api, application_id) == [
        ("other@example.com", None, "ann@example.com")
    ]


async def test_operations_filter_by_status(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    scim_target.create_user("a.lee")
    scim_target.create_user("b.kim")
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    accounts = await account_ids(api, application_id)
    user_id = await create_user(api, "ann@example.com")
    await api(ASSOCIATE, accountId=accounts["a.lee"], userId=user_id)
    await api(DELETE, accountId=accounts["b.kim"])
    async with session_scope() as session:
        connection = (await session.exec(select(ScimConnection))).one()
        connection.base_url = f"http://127.0.0.1:{free_port()}/scim/v2"
    await api(DELETE, accountId=accounts["a.lee"])

    everything = await api(OPERATIONS, id=application_id)
    succeeded = await api(OPERATIONS, id=application_id, status="SUCCEEDED")
    failed = await api(OPERATIONS, id=application_id, status="FAILED")

    assert _log(everything) == [
        ("DELETE_ACCOUNT", "FAILED"),
        ("DELETE_ACCOUNT", "SUCCEEDED"),
        ("LINK_ACCOUNT", "SUCCEEDED"),
    ]
    assert _log(succeeded) == [
        ("DELETE_ACCOUNT", "SUCCEEDED"),
        ("LINK_ACCOUNT", "SUCCEEDED"),
    ]
    assert _log(failed) == [("DELETE_ACCOUNT", "FAILED")]
    assert failed["node"]["provisioning"]["operations"]["totalCount"] == 1


def _log(data: dict[str, Any]) -> list[tuple[str, str]]:
    edges = data["node"]["provisioning"]["operations"]["edges"]
    return [(e["node"]["action"], e["node"]["status"]) for e in edges]
