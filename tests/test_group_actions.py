"""The Groups tab's row actions against real SCIM targets."""

from __future__ import annotations

from typing import Any

from tests.support.fixtures import (
    account_ids,
    connect,
    create_application,
    create_folder,
    create_user,
    group_ids,
    operations,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

CREATE_FOLDER_FROM_GROUP = """
mutation($groupId: ID!) {
  createFolderFromGroup(input: {groupId: $groupId}) {
    folder {
      id name
      users { edges { node { email } } }
      applications { edges { node { id } } }
    }
    group { id displayName folder { id } }
    errors { code message field }
  }
}
"""

ASSOCIATE_FOLDER = """
mutation($groupId: ID!, $folderId: ID!) {
  associateFolder(input: {groupId: $groupId, folderId: $folderId}) {
    folder { id name applications { edges { node { id } } } }
    group { id folder { id } }
    errors { code message field }
  }
}
"""

DELETE_GROUP = """
mutation($groupId: ID!) {
  deleteGroup(input: {groupId: $groupId}) {
    group { id displayName }
    folder { name }
    alreadyDeleted
    errors { code message field }
  }
}
"""

ASSOCIATE_MEMBERSHIP = """
mutation($accountId: ID!, $userId: ID!) {
  associateMembership(input: {accountId: $accountId, userId: $userId}) {
    errors { code message }
  }
}
"""

GROUPS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        groups(first: 100) {
          totalCount
          edges { node { displayName memberCount folder { name } } }
        }
      }
    }
  }
}
"""

FOLDERS = """
query { folders(first: 100) { edges { node { name } } } }
"""


async def _connected(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    run = await connect(api, application_id, target)
    assert run["status"] == "SUCCEEDED"
    return application_id


async def _link_account(
    api: GraphQLClient, application_id: str, user_name: str, email: str
) -> None:
    user_id = await create_user(api, email)
    account_id = (await account_ids(api, application_id))[user_name]
    data = await api(ASSOCIATE_MEMBERSHIP, accountId=account_id, userId=user_id)
    assert data["associateMembership"]["errors"] == []


async def _groups(api: GraphQLClient, application_id: str) -> list[dict[str, Any]]:
    data = await api(GROUPS, id=application_id)
    return [e["node"] for e in data["node"]["provisioning"]["groups"]["edges"]]


async def _folder_names(api: GraphQLClient) -> list[str]:
    data = await api(FOLDERS)
    return [edge["node"]["name"] for edge in data["folders"]["edges"]]


async def test_create_folder_from_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    members = [target.create_user(name)["id"] for name in ("ann", "bob", "cid")]
    scim_id = target.create_group("Sales", members)["id"]
    application_id = await _connected(api, target)
    await _link_account(api, application_id, "ann", "ann@example.com")
    await _link_account(api, application_id, "bob", "bob@example.com")
    group_id = (await group_ids(api, application_id))["Sales"]

    data = await api(CREATE_FOLDER_FROM_GROUP, groupId=group_id)

    payload = data["createFolderFromGroup"]
    assert payload["errors"] == []
    folder = payload["folder"]
    assert folder["name"] == "Sales"
    assert [e["node"]["email"] for e in folder["users"]["edges"]] == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert folder["applications"]["edges"] == [{"node": {"id": application_id}}]
    assert payload["group"]["folder"] == {"id": folder["id"]}
    assert await _groups(api, application_id) == [
        {"displayName": "Sales", "memberCount": 3, "folder": {"name": "Sales"}}
    ]
    assert target.member_ids(scim_id) == set(members)
    log = await operations(api, application_id)
    assert [(o["action"], o["attempts"], o["scimId"]) for o in log[:1]] == [
        ("LINK_GROUP", 0, scim_id)
    ]
    assert log[0]["folder"] == {"name": "Sales"}


async def test_create_folder_from_group_twice(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    target.create_group("Sales")
    application_id = await _connected(api, target)
    group_id = (await group_ids(api, application_id))["Sales"]

    first = await api(CREATE_FOLDER_FROM_GROUP, groupId=group_id)
    second = await api(CREATE_FOLDER_FROM_GROUP, groupId=group_id)

    assert second["createFolderFromGroup"]["errors"] == []
    assert (
        second["createFolderFromGroup"]["folder"]["id"]
        == first["createFolderFromGroup"]["folder"]["id"]
    )
    assert await _folder_names(api) == ["Sales"]
    assert len(await operations(api, application_id)) == 1


async def test_create_folder_name_taken_rejected(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    await create_folder(api, "sales")
    target.create_group("Sales")
    application_id = await _connected(api, target)
    group_id = (await group_ids(api, application_id))["Sales"]

    data = await api(CREATE_FOLDER_FROM_GROUP, groupId=group_id)

    errors = data["createFolderFromGroup"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("ALREADY_EXISTS", ["groupId"])
    ]
    assert "'sales'" in errors[0]["message"]
    assert "associateFolder" in errors[0]["message"]
    assert data["createFolderFromGroup"]["folder"] is None
    assert await _folder_names(api) == ["sales"]
    assert await _groups(api, application_id) == [
        {"displayName": "Sales", "memberCount": 0, "folder": None}
    ]
    assert await operations(api, application_id) == []


async def test_associate_folder(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    folder_id = await create_folder(api, "Team A")
    scim_id = target.create_group("Sales")["id"]
    application_id = await _connected(api, target)
    group_id = (await group_ids(api, application_id))["Sales"]

    data = await api(ASSOCIATE_FOLDER, groupId=group_id, folderId=folder_id)

    payload = data["associateFolder"]
    assert payload["errors"] == []
    assert payload["group"]["folder"] == {"id": folder_id}
    assert payload["folder"]["applications"]["edges"] == [
        {"node": {"id": application_id}}
    ]
    assert await _groups(api, application_id) == [
        {"displayName": "Sales", "memberCount": 0, "folder": {"name": "Team A"}}
    ]
    [link] = await operations(api, application_id)
    assert (link["action"], link["status"], link["scimId"]) == (
        "LINK_GROUP",
        "SUCCEEDED",
        scim_id,
    )
    assert target.group(scim_id)["displayName"] == "Sales"  # type: ignore[index]


async def test_associate_linked_group_rejected(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    first_id = await create_folder(api, "Team A")
    second_id = await create_folder(api, "Team B")
    target.create_group("Sales")
    application_id = await _connected(api, target)
    group_id = (await group_ids(api, application_id))["Sales"]
    await api(ASSOCIATE_FOLDER, groupId=group_id, folderId=first_id)

    data = await api(ASSOCIATE_FOLDER, groupId=group_id, folderId=second_id)

    errors = data["associateFolder"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("ALREADY_LINKED", ["groupId"])
    ]
    assert "'Team A'" in errors[0]["message"]
    assert await _groups(api, application_id) == [
        {"displayName": "Sales", "memberCount": 0, "folder": {"name": "Team A"}}
    ]
    assert len(await operations(api, application_id)) == 1


async def test_associate_linked_folder_rejected(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    folder_id = await create_folder(api, "Team A")
    target.create_group("Sales")
    target.create_group("Support")
    application_id = await _connected(api, target)
    groups = await group_ids(api, application_id)
    await api(ASSOCIATE_FOLDER, groupId=groups["Sales"], folderId=folder_id)

    data = await api(ASSOCIATE_FOLDER, groupId=groups["Support"], folderId=folder_id)

    errors = data["associateFolder"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("ALREADY_LINKED", ["folderId"])
    ]
    assert "'Sales'" in errors[0]["message"]
    assert await _groups(api, application_id) == [
        {"displayName": "Sales", "memberCount": 0, "folder": {"name": "Team A"}},
        {"displayName": "Support", "memberCount": 0, "folder": None},
    ]
    assert len(await operations(api, application_id)) == 1


async def test_delete_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    folder_id = await create_folder(api, "Team A")
    scim_id = target.create_group("Sales")["id"]
    target.create_group("Support")
    application_id = await _connected(api, target)
    group_id = (await group_ids(api, application_id))["Sales"]
    await api(ASSOCIATE_FOLDER, groupId=group_id, folderId=folder_id)

    data = await api(DELETE_GROUP, groupId=group_id)

    payload = data["deleteGroup"]
    assert payload["errors"] == []
    assert payload["alreadyDeleted"] is False
    assert payload["group"] == {"id": group_id, "displayName": "Sales"}
    assert payload["folder"] == {"name": "Team A"}
    assert target.group(scim_id) is None
    assert [g["displayName"] for g in target.groups()] == ["Support"]
    assert await _groups(api, application_id) == [
        {"displayName": "Support", "memberCount": 0, "folder": None}
    ]
    assert await _folder_names(api) == ["Team A"]
    delete = (await operations(api, application_id))[0]
    assert (delete["action"], delete["status"]) == ("DELETE_GROUP", "SUCCEEDED")
    assert delete["targetStatus"] == 204
    assert delete["folder"] == {"name": "Team A"}


async def test_delete_group_already_gone(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    scim_id = target.create_group("Sales")["id"]
    application_id = await _connected(api, target)
    group_id = (await group_ids(api, application_id))["Sales"]
    target.delete_group(scim_id)

    data = await api(DELETE_GROUP, groupId=group_id)

    payload = data["deleteGroup"]
    assert payload["errors"] == []
    assert payload["alreadyDeleted"] is True
    assert await _groups(api, application_id) == []
    [delete] = await operations(api, application_id)
    assert (delete["status"], delete["targetStatus"]) == ("SUCCEEDED", 404)
    assert delete["detail"] == (
        "The target no longer had the group; it was removed from the mirror."
    )
