"""Bringing a linked group's members in line with its folder, on real targets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import col, delete, select
from strawberry import relay

from domain.db import session_scope
from domain.errors import DomainError
from domain.models import FolderUser, ScimConnection, User
from domain.provisioning.membership import MembershipSync, sync_group_members
from domain.users import create_user as create_domain_user
from tests.support.fixtures import (
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_application,
    create_folder,
    create_user,
    operations,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

CREATE_GROUP = """
mutation($applicationId: ID!, $folderId: ID!) {
  createGroup(input: {applicationId: $applicationId, folderId: $folderId}) {
    group { scimId memberCount }
    errors { code message field }
  }
}
"""

REMOVE_USER_FROM_FOLDER = """
mutation($folderId: ID!, $userId: ID!) {
  removeUserFromFolder(input: {folderId: $folderId, userId: $userId}) {
    errors { code message }
  }
}
"""

GROUPS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { groups(first: 10) { edges { node { displayName memberCount } } } }
    }
  }
}
"""


def _uuid(global_id: str) -> uuid.UUID:
    return uuid.UUID(relay.GlobalID.from_id(global_id).node_id)


def _patch_status(target: ScimTenant) -> int:
    """Return the PATCH status: SCIMMY responds 200 with the group, scim2-server 204."""
    return 200 if target.base_url.endswith("/scim/v2") else 204


async def _sync(application_id: str, folder_id: str) -> MembershipSync:
    async with session_scope() as session:
        return await sync_group_members(
            session, _uuid(application_id), _uuid(folder_id), trigger="job:tests"
        )


async def _create_group(api: GraphQLClient, application_id: str, folder_id: str) -> str:
    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)
    assert data["createGroup"]["errors"] == []
    scim_id: str = data["createGroup"]["group"]["scimId"]
    return scim_id


async def _summary(api: GraphQLClient, application_id: str) -> list[tuple[Any, ...]]:
    """Return (action, status, targetStatus, detail) per operation, newest first."""
    return [
        (o["action"], o["status"], o["targetStatus"], o["detail"])
        for o in await operations(api, application_id)
    ]


async def _team(
    api: GraphQLClient, target: ScimTenant, emails: list[str], members: list[str]
) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """Set up a folder holding a connected application, and accounts in the target.

    Returns the application and folder ids, then the SmartLink user ids and the
    target's SCIM ids, both by email. `members` are the folder's members.
    """
    application_id = await create_application(api)
    folder_id = await create_folder(api, "Sales")
    await add_application_to_folder(api, folder_id, application_id)
    users = {email: await create_user(api, email) for email in emails}
    for email in members:
        await add_user_to_folder(api, folder_id, users[email])
    accounts = {email: target.create_user(email)["id"] for email in emails}
    await connect(api, application_id, target)
    return application_id, folder_id, users, accounts


async def test_sync_adds_and_removes(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    emails = ["ann@example.com", "bob@example.com", "cid@example.com"]
    application_id, folder_id, users, accounts = await _team(
        api, target, emails, emails[:2]
    )
    group = await _create_group(api, application_id, folder_id)
    late = target.create_user("late@example.com")["id"]
    nested = target.create_group("Nested")["id"]
    target.add_members(group, [late, nested])
    await api(REMOVE_USER_FROM_FOLDER, folderId=folder_id, userId=users[emails[1]])
    await add_user_to_folder(api, folder_id, users[emails[2]])

    result = await _sync(application_id, folder_id)

    assert (result.added, result.removed) == (1, 1)
    assert target.member_ids(group) == {
        accounts[emails[0]],
        accounts[emails[2]],
        late,
        nested,
    }
    assert result.group.member_ids.count(late) == 1
    assert len(result.group.member_ids) == 4
    status = _patch_status(target)
    assert (await _summary(api, application_id))[:2] == [
        ("ADD_GROUP_MEMBERS", "SUCCEEDED", status, "Added 1 member."),
        ("REMOVE_GROUP_MEMBERS", "SUCCEEDED", status, "Removed 1 member."),
    ]
    log = await operations(api, application_id)
    assert {(o["trigger"], o["scimId"]) for o in log[:2]} == {("job:tests", group)}
    assert log[0]["folder"] == {"name": "Sales"}
    data = await api(GROUPS, id=application_id)
    assert data["node"]["provisioning"]["groups"]["edges"] == [
        {"node": {"displayName": "Sales", "memberCount": 4}}
    ]


async def test_sync_in_line_sends_nothing(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    emails = ["ann@example.com", "bob@example.com"]
    application_id, folder_id, _users, accounts = await _team(
        api, target, emails, emails
    )
    group = await _create_group(api, application_id, folder_id)

    result = await _sync(application_id, folder_id)

    assert (result.added, result.removed) == (0, 0)
    assert target.member_ids(group) == set(accounts.values())
    assert [row[0] for row in await _summary(api, application_id)] == ["CREATE_GROUP"]


async def test_folder_of_250_becomes_chunked_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_id = await create_folder(api, "Everyone")
    await add_application_to_folder(api, folder_id, application_id)
    emails = [f"member{i:03}@example.com" for i in range(250)]
    async with session_scope() as session:
        for email in emails:
            user = await create_domain_user(session, email=email)
            session.add(FolderUser(folder_id=_uuid(folder_id), user_id=user.id))
    accounts = {email: target.create_user(email)["id"] for email in emails}
    run = await connect(api, application_id, target)
    assert run["totalAccounts"] == 250

    group = await _create_group(api, application_id, folder_id)

    assert target.member_ids(group) == set(accounts.values())
    status = _patch_status(target)
    assert await _summary(api, application_id) == [
        ("ADD_GROUP_MEMBERS", "SUCCEEDED", status, "Added 50 members."),
        ("ADD_GROUP_MEMBERS", "SUCCEEDED", status, "Added 100 members."),
        ("CREATE_GROUP", "SUCCEEDED", 201, None),
    ]

    await _leave_folders(emails[:120])

    result = await _sync(application_id, folder_id)

    assert (result.added, result.removed) == (0, 120)
    assert target.member_ids(group) == {accounts[e] for e in emails[120:]}
    assert (await _summary(api, application_id))[:2] == [
        ("REMOVE_GROUP_MEMBERS", "SUCCEEDED", status, "Removed 20 members."),
        ("REMOVE_GROUP_MEMBERS", "SUCCEEDED", status, "Removed 100 members."),
    ]


async def _leave_folders(emails: list[str]) -> None:
    """Take users out of every folder, straight in the database."""
    async with session_scope() as session:
        ids = select(User.id).where(col(User.email_key).in_(emails))
        leaving = delete(FolderUser).where(col(FolderUser.user_id).in_(ids))
        await session.exec(leaving)  # type: ignore[call-overload]


async def test_put_only_target_gets_full_group(
    api: GraphQLClient, put_only_target: ScimTenant, job_worker: None
) -> None:
    target = put_only_target
    emails = ["ann@example.com", "bob@example.com", "cid@example.com"]
    application_id, folder_id, users, accounts = await _team(
        api, target, emails, emails[:2]
    )
    group = await _create_group(api, application_id, folder_id)
    await api(REMOVE_USER_FROM_FOLDER, folderId=folder_id, userId=users[emails[1]])
    await add_user_to_folder(api, folder_id, users[emails[2]])

    result = await _sync(application_id, folder_id)

    assert (result.added, result.removed) == (1, 1)
    assert target.member_ids(group) == {accounts[emails[0]], accounts[emails[2]]}
    replaced = target.group(group)
    assert replaced is not None
    assert replaced["displayName"] == "Sales"
    assert replaced["externalId"] == str(_uuid(folder_id))
    assert await _summary(api, application_id) == [
        (
            "REPLACE_GROUP_MEMBERS",
            "SUCCEEDED",
            200,
            "Sent the full member list (2 members): added 1, removed 1.",
        ),
        ("CREATE_GROUP", "SUCCEEDED", 201, None),
    ]


async def test_patch_refused_falls_back_to_put(
    api: GraphQLClient, put_only_target: ScimTenant, job_worker: None
) -> None:
    target = put_only_target
    emails = ["ann@example.com", "bob@example.com"]
    application_id, folder_id, users, accounts = await _team(
        api, target, emails, emails
    )
    group = await _create_group(api, application_id, folder_id)
    # The stored ServiceProviderConfig now announces PATCH, which this target
    # rejects with 501, so the sync must fall back to PUT.
    async with session_scope() as session:
        connection = (await session.exec(select(ScimConnection))).one()
        config = dict(connection.service_provider_config or {})
        config["patch"] = {"supported": True}
        connection.service_provider_config = config
    await api(REMOVE_USER_FROM_FOLDER, folderId=folder_id, userId=users[emails[1]])

    result = await _sync(application_id, folder_id)

    assert (result.added, result.removed) == (0, 1)
    assert target.member_ids(group) == {accounts[emails[0]]}
    summary = await _summary(api, application_id)
    assert [row[:3] for row in summary] == [
        ("REPLACE_GROUP_MEMBERS", "SUCCEEDED", 200),
        ("REMOVE_GROUP_MEMBERS", "FAILED", 501),
        ("CREATE_GROUP", "SUCCEEDED", 201),
    ]


async def test_sync_needs_linked_group(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    application_id, folder_id, _users, _accounts = await _team(api, target, [], [])

    with pytest.raises(DomainError) as raised:
        await _sync(application_id, folder_id)

    assert raised.value.code.value == "NOT_FOUND"
    assert "createGroup" in raised.value.message
    assert await operations(api, application_id) == []


async def test_sync_of_deleted_group_drops_it(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> None:
    emails = ["ann@example.com"]
    application_id, folder_id, _users, _accounts = await _team(
        api, target, emails, emails
    )
    group = await _create_group(api, application_id, folder_id)
    target.delete_group(group)

    with pytest.raises(DomainError) as raised:
        await _sync(application_id, folder_id)

    assert raised.value.code.value == "NOT_FOUND"
    assert "'Sales'" in raised.value.message
    data = await api(GROUPS, id=application_id)
    assert data["node"]["provisioning"]["groups"]["edges"] == []
    assert [row[0] for row in await _summary(api, application_id)] == ["CREATE_GROUP"]
