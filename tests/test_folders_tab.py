"""The Folders tab and createGroup against real SCIM targets."""

from __future__ import annotations

import asyncio
from typing import Any

from strawberry import relay

from tests.support.fixtures import (
    account_ids,
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_application,
    create_folder,
    create_user,
    group_ids,
    operations,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

FOLDERS_TAB = """
query($id: ID!, $present: Boolean, $search: String) {
  node(id: $id) {
    ... on Application {
      provisioning {
        folders(first: 100, present: $present, search: $search) {
          totalCount
          edges {
            node {
              folder { name }
              presentInApp
              group { displayName folder { name } }
            }
          }
        }
      }
    }
  }
}
"""

CREATE_GROUP = """
mutation($applicationId: ID!, $folderId: ID!) {
  createGroup(input: {applicationId: $applicationId, folderId: $folderId}) {
    group { id scimId displayName memberCount folder { id name } }
    folder { id name }
    errors { code message field }
  }
}
"""

ASSOCIATE_FOLDER = """
mutation($groupId: ID!, $folderId: ID!) {
  associateFolder(input: {groupId: $groupId, folderId: $folderId}) {
    group { folder { name } }
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


def _uuid(global_id: str) -> str:
    return relay.GlobalID.from_id(global_id).node_id


async def _folder_entries(
    api: GraphQLClient, application_id: str, **arguments: Any
) -> list[tuple[str, bool, str | None, str | None]]:
    """Return (folder, presentInApp, group, group's linked folder) per row."""
    data = await api(FOLDERS_TAB, id=application_id, **arguments)
    rows = []
    for edge in data["node"]["provisioning"]["folders"]["edges"]:
        node = edge["node"]
        group = node["group"] or {}
        linked = (group.get("folder") or {}).get("name")
        rows.append(
            (
                node["folder"]["name"],
                node["presentInApp"],
                group.get("displayName"),
                linked,
            )
        )
    return rows


async def _app_folder(api: GraphQLClient, application_id: str, name: str) -> str:
    folder_id = await create_folder(api, name)
    await add_application_to_folder(api, folder_id, application_id)
    return folder_id


async def test_folders_tab_lists_groups(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await _app_folder(api, application_id, "Sales")
    ops_id = await _app_folder(api, application_id, "Ops")
    team_id = await _app_folder(api, application_id, "Team")
    await _app_folder(api, application_id, "Empty")
    await create_folder(api, "Elsewhere")
    scim_target.create_group("sales")
    scim_target.create_group("Operations", externalId=_uuid(ops_id))
    scim_target.create_group("Crew")
    await connect(api, application_id, scim_target)
    crew_id = (await group_ids(api, application_id))["Crew"]
    await api(ASSOCIATE_FOLDER, groupId=crew_id, folderId=team_id)

    rows = await _folder_entries(api, application_id)
    present = await _folder_entries(api, application_id, present=True)
    absent = await _folder_entries(api, application_id, present=False)
    searched = await _folder_entries(api, application_id, search="S")

    assert rows == [
        ("Empty", False, None, None),
        ("Ops", True, "Operations", None),
        ("Sales", True, "sales", None),
        ("Team", True, "Crew", "Team"),
    ]
    assert [row[0] for row in present] == ["Ops", "Sales", "Team"]
    assert [row[0] for row in absent] == ["Empty"]
    assert [row[0] for row in searched] == ["Ops", "Sales"]


async def test_create_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await _app_folder(api, application_id, "Sales")
    ann_id = await create_user(api, "ann@example.com")
    bob_id = await create_user(api, "bob@example.com")
    cid_id = await create_user(api, "cid@example.com")
    for user_id in (ann_id, bob_id, cid_id):
        await add_user_to_folder(api, folder_id, user_id)
    ann = target.create_user("a.lee")["id"]
    bob = target.create_user("bob@example.com")["id"]
    target.create_user("dave@example.com")
    await connect(api, application_id, target)
    account_id = (await account_ids(api, application_id))["a.lee"]
    await api(ASSOCIATE_MEMBERSHIP, accountId=account_id, userId=ann_id)

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    payload = data["createGroup"]
    assert payload["errors"] == []
    group = payload["group"]
    assert group["displayName"] == "Sales"
    assert group["memberCount"] == 2
    assert group["folder"] == {"id": folder_id, "name": "Sales"}
    assert payload["folder"] == {"id": folder_id, "name": "Sales"}
    [created] = target.groups()
    assert created["id"] == group["scimId"]
    assert created["displayName"] == "Sales"
    assert created["externalId"] == _uuid(folder_id)
    assert target.member_ids(created["id"]) == {ann, bob}
    assert await _folder_entries(api, application_id) == [
        ("Sales", True, "Sales", "Sales")
    ]
    log = await operations(api, application_id)
    assert [(o["action"], o["status"], o["targetStatus"]) for o in log[:1]] == [
        ("CREATE_GROUP", "SUCCEEDED", 201)
    ]
    assert log[0]["scimId"] == created["id"]
    assert log[0]["folder"] == {"name": "Sales"}
    assert [o["action"] for o in log] == ["CREATE_GROUP", "LINK_ACCOUNT"]


async def test_create_group_twice_at_once(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await _app_folder(api, application_id, "Sales")
    await connect(api, application_id, target)

    results = await asyncio.gather(
        api(CREATE_GROUP, applicationId=application_id, folderId=folder_id),
        api(CREATE_GROUP, applicationId=application_id, folderId=folder_id),
    )

    payloads = [result["createGroup"] for result in results]
    succeeded = [p["group"]["scimId"] for p in payloads if not p["errors"]]
    rejected = [e["code"] for p in payloads for e in p["errors"]]
    assert len(target.groups()) == 1
    assert succeeded[0] == target.groups()[0]["id"]
    assert set(succeeded) == {succeeded[0]}
    assert rejected in ([], ["IN_PROGRESS"])
    log = await operations(api, application_id)
    assert [o["action"] for o in log] == ["CREATE_GROUP"]


async def test_create_group_again_keeps_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await _app_folder(api, application_id, "Sales")
    await connect(api, application_id, target)
    first = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    second = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    assert second["createGroup"]["errors"] == []
    assert second["createGroup"]["group"]["id"] == first["createGroup"]["group"]["id"]
    assert len(target.groups()) == 1
    assert [o["action"] for o in await operations(api, application_id)] == [
        "CREATE_GROUP"
    ]


async def test_create_group_needs_application(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await create_folder(api, "Sales")
    await connect(api, application_id, target)

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    errors = data["createGroup"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["folderId"])]
    assert "'Sales'" in errors[0]["message"]
    assert data["createGroup"]["group"] is None
    assert target.groups() == []
    assert await operations(api, application_id) == []


async def test_create_group_conflict_offers_group(
    api: GraphQLClient, unique_names_target: ScimTenant, job_worker: None
) -> None:
    target = unique_names_target
    application_id = await create_application(api)
    folder_id = await _app_folder(api, application_id, "Sales")
    await connect(api, application_id, target)
    existing = target.create_group("Sales")["id"]

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    payload = data["createGroup"]
    errors = payload["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("ALREADY_EXISTS", ["folderId"])
    ]
    assert "'Sales'" in errors[0]["message"]
    assert "associateFolder" in errors[0]["message"]
    assert payload["group"]["scimId"] == existing
    assert payload["group"]["folder"] is None
    assert [g["id"] for g in target.groups()] == [existing]
    [create] = await operations(api, application_id)
    assert (create["action"], create["status"]) == ("CREATE_GROUP", "FAILED")
    assert create["targetStatus"] == 409
    assert create["error"] == errors[0]["message"]
    assert await _folder_entries(api, application_id) == [
        ("Sales", True, "Sales", None)
    ]

    associated = await api(
        ASSOCIATE_FOLDER, groupId=payload["group"]["id"], folderId=folder_id
    )
    assert associated["associateFolder"]["errors"] == []
    assert associated["associateFolder"]["group"] == {"folder": {"name": "Sales"}}


async def test_create_group_known_name_offers_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await _app_folder(api, application_id, "Sales")
    existing = target.create_group("SALES")["id"]
    await connect(api, application_id, target)

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    payload = data["createGroup"]
    assert [e["code"] for e in payload["errors"]] == ["ALREADY_EXISTS"]
    assert payload["group"]["scimId"] == existing
    assert [g["id"] for g in target.groups()] == [existing]
    assert await operations(api, application_id) == []


async def test_create_group_adopts_own_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await _app_folder(api, application_id, "Sales")
    user_id = await create_user(api, "ann@example.com")
    await add_user_to_folder(api, folder_id, user_id)
    ann = target.create_user("ann@example.com")["id"]
    existing = target.create_group("Old name", externalId=_uuid(folder_id))["id"]
    await connect(api, application_id, target)

    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)

    payload = data["createGroup"]
    assert payload["errors"] == []
    assert payload["group"]["scimId"] == existing
    assert payload["group"]["folder"] == {"id": folder_id, "name": "Sales"}
    assert [g["id"] for g in target.groups()] == [existing]
    assert target.member_ids(existing) == {ann}
    log = await operations(api, application_id)
    assert [(o["action"], o["detail"]) for o in log] == [
        ("ADD_GROUP_MEMBERS", "Added 1 member."),
        ("LINK_GROUP", None),
    ]
