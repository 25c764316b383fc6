"""Dry run: writes are recorded as operations and never reach the target."""

from __future__ import annotations

from typing import Any

from tests.support.fixtures import (
    account_ids,
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_account,
    create_application,
    create_folder,
    create_user,
    grant_access,
    node_uuid,
    outbox_settled,
    refresh,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

CREATE_ACCOUNT = """
mutation($applicationId: ID!, $userId: ID!) {
  createAccount(input: {applicationId: $applicationId, userId: $userId}) {
    account { id } errors { code message field }
  }
}
"""

DELETE_ACCOUNT = """
mutation($accountId: ID!) {
  deleteAccount(input: {accountId: $accountId}) { errors { code message } }
}
"""

CREATE_GROUP = """
mutation($applicationId: ID!, $folderId: ID!) {
  createGroup(input: {applicationId: $applicationId, folderId: $folderId}) {
    group { scimId } errors { code message }
  }
}
"""

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

DRY_RUN_OPERATIONS = """
query($id: ID!, $dryRun: Boolean) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations(first: 100, dryRun: $dryRun) {
          edges {
            node {
              action status dryRun targetStatus attempts scimId detail
              request { method path body }
            }
          }
        }
      }
    }
  }
}
"""

SETTINGS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application { provisioning { settings { dryRun refreshInterval } } }
  }
}
"""

AUDIT_LOG = """
query($applicationId: ID) {
  auditLog(applicationId: $applicationId, action: "updateProvisioningSettings") {
    edges { node { changes } }
  }
}
"""


OPERATIONS_BY_STATUS = """
query($id: ID!, $status: OperationStatus) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations(first: 100, status: $status) { edges { node { status dryRun } } }
      }
    }
  }
}
"""


async def _operations(
    api: GraphQLClient, application_id: str, dry_run: bool | None = None
) -> list[dict[str, Any]]:
    data = await api(DRY_RUN_OPERATIONS, id=application_id, dryRun=dry_run)
    edges = data["node"]["provisioning"]["operations"]["edges"]
    return [edge["node"] for edge in edges]


async def _operations_by_status(
    api: GraphQLClient, application_id: str, status: str
) -> list[dict[str, Any]]:
    data = await api(OPERATIONS_BY_STATUS, id=application_id, status=status)
    edges = data["node"]["provisioning"]["operations"]["edges"]
    nodes = [edge["node"] for edge in edges]
    assert {node["status"] for node in nodes} <= {status}
    return nodes


async def _connected_user(
    api: GraphQLClient, target: ScimTenant, email: str = "ada@example.org"
) -> tuple[str, str]:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    user_id = await create_user(api, email, givenName="Ada", familyName="Lovelace")
    await grant_access(api, user_id, application_id)
    return application_id, user_id


async def test_dry_run_defaults_off(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(SETTINGS, id=application_id)

    assert data["node"]["provisioning"]["settings"]["dryRun"] is False


async def test_create_account_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, user_id = await _connected_user(api, scim_target)
    await update_settings(api, application_id, dryRun=True)

    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)

    payload = data["createAccount"]
    assert payload["account"] is None
    assert [e["code"] for e in payload["errors"]] == ["DRY_RUN"]
    assert "not sent" in payload["errors"][0]["message"]
    assert scim_target.users() == []
    assert await account_ids(api, application_id) == {}
    [operation] = await _operations(api, application_id)
    assert operation["action"] == "CREATE_ACCOUNT"
    assert operation["status"] == "WITHHELD"
    assert operation["dryRun"] is True
    assert operation["targetStatus"] is None
    assert operation["scimId"] is None
    request = operation["request"]
    assert request["method"] == "POST"
    assert request["path"] == "Users"
    assert request["body"]["userName"] == "ada@example.org"
    assert request["body"]["name"]["givenName"] == "Ada"
    assert request["body"]["externalId"] == node_uuid(user_id)


async def test_turning_off_resumes_writes(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, user_id = await _connected_user(api, scim_target)
    await update_settings(api, application_id, dryRun=True)
    await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)

    await update_settings(api, application_id, dryRun=False)
    account = await create_account(api, application_id, user_id)

    [user] = scim_target.users()
    assert user["userName"] == "ada@example.org"
    assert user["id"] == account["scimId"]
    real = await _operations(api, application_id, dry_run=False)
    assert [(o["action"], o["targetStatus"]) for o in real] == [("CREATE_ACCOUNT", 201)]
    assert real[0]["status"] == "SUCCEEDED"
    assert real[0]["request"] is None
    dry = await _operations(api, application_id, dry_run=True)
    assert [(o["action"], o["dryRun"]) for o in dry] == [("CREATE_ACCOUNT", True)]
    assert dry[0]["status"] == "WITHHELD"
    withheld = await _operations_by_status(api, application_id, "WITHHELD")
    assert [o["dryRun"] for o in withheld] == [True]
    succeeded = await _operations_by_status(api, application_id, "SUCCEEDED")
    assert [o["dryRun"] for o in succeeded] == [False]


async def test_delete_account_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    seeded = scim_target.create_user("bob@example.org")
    application_id = await create_application(api)
    await update_settings(api, application_id, dryRun=True)
    # Reads still go out: connecting and refreshing fill the mirror.
    await connect(api, application_id, scim_target)
    assert await refresh(api, application_id) is not None
    account_id = (await account_ids(api, application_id))["bob@example.org"]

    data = await api(DELETE_ACCOUNT, accountId=account_id)

    assert [e["code"] for e in data["deleteAccount"]["errors"]] == ["DRY_RUN"]
    assert scim_target.user(seeded["id"]) is not None
    assert "bob@example.org" in await account_ids(api, application_id)
    [operation] = await _operations(api, application_id, dry_run=True)
    assert operation["action"] == "DELETE_ACCOUNT"
    assert operation["status"] == "WITHHELD"
    assert operation["request"] == {
        "method": "DELETE",
        "path": f"Users/{seeded['id']}",
        "body": None,
    }


async def test_settings_toggle_is_audited(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    await update_settings(api, application_id, dryRun=True)
    await update_settings(api, application_id, dryRun=False)

    data = await api(AUDIT_LOG, applicationId=application_id)
    changes = [edge["node"]["changes"] for edge in data["auditLog"]["edges"]]
    assert {"dry_run": {"old": True, "new": False}} in changes
    assert {"dry_run": {"old": False, "new": True}} in changes


async def test_automatic_grant_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC", dryRun=True)
    user_id = await create_user(api, "carol@example.org")

    await grant_access(api, user_id, application_id)

    await wait_until(outbox_settled, what="automatic grant in dry run")
    assert scim_target.users() == []
    assert await _event_statuses() == ["DONE"]
    [operation] = await _operations(api, application_id)
    assert operation["action"] == "CREATE_ACCOUNT"
    assert operation["status"] == "WITHHELD"
    assert operation["dryRun"] is True
    assert operation["request"]["body"]["userName"] == "carol@example.org"


async def test_automatic_revoke_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id, user_id = await _connected_user(api, scim_target)
    account = await create_account(api, application_id, user_id)
    await update_settings(api, application_id, userLosesAccess="AUTOMATIC", dryRun=True)

    await api(REVOKE, userId=user_id, applicationId=application_id)

    await wait_until(outbox_settled, what="automatic revoke in dry run")
    stored = scim_target.user(account["scimId"])
    assert stored is not None
    assert stored["active"] is True
    assert await _event_statuses() == ["DONE"]
    [operation] = await _operations(api, application_id, dry_run=True)
    assert operation["action"] == "DEACTIVATE_ACCOUNT"
    assert operation["status"] == "WITHHELD"
    request = operation["request"]
    assert request["method"] == "PATCH"
    assert request["path"] == f"Users/{account['scimId']}"
    assert request["body"]["Operations"] == [
        {"op": "replace", "path": "active", "value": False}
    ]


async def test_create_group_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    folder_id = await create_folder(api, "Sales")
    await add_application_to_folder(api, folder_id, application_id)
    await update_settings(api, application_id, dryRun=True)

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    assert [e["code"] for e in data["createGroup"]["errors"]] == ["DRY_RUN"]
    assert scim_target.groups() == []
    [operation] = await _operations(api, application_id, dry_run=True)
    assert operation["action"] == "CREATE_GROUP"
    assert operation["status"] == "WITHHELD"
    assert operation["request"]["method"] == "POST"
    assert operation["request"]["path"] == "Groups"
    assert operation["request"]["body"]["displayName"] == "Sales"


async def test_group_sync_sends_nothing(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id, user_id = await _connected_user(api, scim_target)
    account = await create_account(api, application_id, user_id)
    folder_id = await create_folder(api, "Sales")
    await add_application_to_folder(api, folder_id, application_id)
    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)
    group_id = data["createGroup"]["group"]["scimId"]
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC", dryRun=True)

    await add_user_to_folder(api, folder_id, user_id)

    await wait_until(outbox_settled, what="group sync in dry run")
    assert scim_target.member_ids(group_id) == set()
    assert await _event_statuses() == ["DONE"]
    [operation] = await _operations(api, application_id, dry_run=True)
    assert operation["action"] == "ADD_GROUP_MEMBERS"
    assert operation["status"] == "WITHHELD"
    assert operation["request"]["method"] == "PATCH"
    assert operation["request"]["path"] == f"Groups/{group_id}"
    [patch] = operation["request"]["body"]["Operations"]
    assert patch["op"] == "add"
    assert patch["value"] == [{"value": account["scimId"]}]


async def test_viewer_cannot_read_request_body(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    from domain.db import session_scope
    from domain.models import TokenRole
    from domain.tokens import create_token

    application_id, user_id = await _connected_user(api, scim_target)
    await update_settings(api, application_id, dryRun=True)
    await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)
    async with session_scope() as session:
        _token, secret = await create_token(session, "viewer", TokenRole.VIEWER)

    response = await api.http.post(
        "/graphql",
        json={"query": DRY_RUN_OPERATIONS, "variables": {"id": application_id}},
        headers={"Authorization": f"Bearer {secret}"},
    )

    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "request.body" in body["errors"][0]["message"]


async def _event_statuses() -> list[str]:
    from sqlmodel import select

    from domain.db import session_scope
    from domain.models import OutboxEvent

    async with session_scope() as session:
        events = await session.exec(select(OutboxEvent))
        return [event.status.value for event in events]
