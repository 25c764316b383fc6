"""Concurrent calls that grant or revoke the same access: all succeed, one acts.

On PostgreSQL the racing transactions all read "no grant" before any of them
commits, so each tries the same INSERT. SQLite lets one writer in at a time,
but the reads before the write still interleave.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlmodel import col, func, select

from domain.db import session_scope
from domain.models import (
    AccessGrant,
    FolderApplication,
    FolderUser,
    OutboxEvent,
    ProvisioningEvent,
)
from tests.support.fixtures import (
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_application,
    create_folder,
    create_user,
    grant_access,
    node_uuid,
    update_settings,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

#: Calls sent at once, within the 15 connections of SQLAlchemy's default
#: PostgreSQL pool, so that every call gets a connection at the same time.
CALLS = 8

GAINS = ProvisioningEvent.USER_GAINS_ACCESS
LOSES = ProvisioningEvent.USER_LOSES_ACCESS

GRANT = """
mutation($userId: ID!, $applicationId: ID!) {
  grantAccess(input: {userId: $userId, applicationId: $applicationId}) {
    user { id } errors { code message }
  }
}
"""

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    user { id } revoked errors { code message }
  }
}
"""

GRANT_TO_USERS = """
mutation($applicationId: ID!, $userIds: [ID!]!) {
  grantAccessToUsers(input: {applicationId: $applicationId, userIds: $userIds}) {
    grantedCount alreadyGrantedCount errors { code message }
  }
}
"""

REVOKE_FROM_USERS = """
mutation($applicationId: ID!, $userIds: [ID!]!) {
  revokeAccessFromUsers(input: {applicationId: $applicationId, userIds: $userIds}) {
    revokedCount notGrantedCount errors { code message }
  }
}
"""

ADD_USER = """
mutation($folderId: ID!, $userId: ID!) {
  addUserToFolder(input: {folderId: $folderId, userId: $userId}) {
    folder { id } errors { code message }
  }
}
"""

REMOVE_USER = """
mutation($folderId: ID!, $userId: ID!) {
  removeUserFromFolder(input: {folderId: $folderId, userId: $userId}) {
    folder { id } errors { code message }
  }
}
"""

ADD_APPLICATION = """
mutation($folderId: ID!, $applicationId: ID!) {
  addApplicationToFolder(input: {folderId: $folderId, applicationId: $applicationId}) {
    folder { id } errors { code message }
  }
}
"""

REMOVE_APPLICATION = """
mutation($folderId: ID!, $applicationId: ID!) {
  removeApplicationFromFolder(
    input: {folderId: $folderId, applicationId: $applicationId}
  ) {
    folder { id } errors { code message }
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


async def _at_once(
    api: GraphQLClient, calls: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Send every call concurrently and return each mutation's payload.

    Fails on any GraphQL error, such as the masked error of an unhandled
    exception, and on any error in a payload.
    """
    bodies = await asyncio.gather(
        *(api.execute(document, **variables) for document, variables in calls)
    )
    payloads = []
    for body in bodies:
        assert "errors" not in body, body["errors"]
        [payload] = body["data"].values()
        assert payload["errors"] == []
        payloads.append(payload)
    return payloads


async def _automatic_application(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(
        api, application_id, userGainsAccess="AUTOMATIC", userLosesAccess="AUTOMATIC"
    )
    return application_id


async def _users(api: GraphQLClient, count: int) -> list[str]:
    return [
        await create_user(api, f"user{index}@example.org") for index in range(count)
    ]


async def _events(
    event: ProvisioningEvent, *, for_group: bool = False
) -> dict[str, int]:
    """Count the outbox events of a kind by user id, for accounts or for groups."""
    statement = (
        select(OutboxEvent.user_id, func.count())
        .where(OutboxEvent.event == event)
        .where(col(OutboxEvent.folder_id).is_not(None) == for_group)
        .group_by(col(OutboxEvent.user_id))
    )
    async with session_scope() as session:
        rows = await session.exec(statement)
        return {str(user_id): count for user_id, count in rows}


async def _grant_count(application_id: str) -> int:
    statement = select(func.count()).where(
        AccessGrant.application_id == uuid.UUID(node_uuid(application_id))
    )
    async with session_scope() as session:
        return (await session.exec(statement)).one()


async def _count_rows(table: Any) -> int:
    async with session_scope() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_concurrent_grants_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    [user_id] = await _users(api, 1)
    variables = {"userId": user_id, "applicationId": application_id}

    payloads = await _at_once(api, [(GRANT, variables)] * CALLS)

    assert [payload["user"] for payload in payloads] == [{"id": user_id}] * CALLS
    assert await _grant_count(application_id) == 1
    assert await _events(GAINS) == {node_uuid(user_id): 1}


async def test_concurrent_revokes_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    [user_id] = await _users(api, 1)
    await grant_access(api, user_id, application_id)
    variables = {"userId": user_id, "applicationId": application_id}

    payloads = await _at_once(api, [(REVOKE, variables)] * CALLS)

    assert [payload["user"] for payload in payloads] == [{"id": user_id}] * CALLS
    assert [payload["revoked"] for payload in payloads].count(True) == 1
    assert await _grant_count(application_id) == 0
    assert await _events(LOSES) == {node_uuid(user_id): 1}


async def test_overlapping_bulk_grants_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_ids = await _users(api, 4)
    # Each list contains three of the four users, starting at a different one.
    lists = [[user_ids[(start + step) % 4] for step in range(3)] for start in range(4)]
    calls = [
        (GRANT_TO_USERS, {"applicationId": application_id, "userIds": user_list})
        for user_list in lists * 2
    ]

    payloads = await _at_once(api, calls)

    assert sum(payload["grantedCount"] for payload in payloads) == 4
    assert (
        sum(payload["alreadyGrantedCount"] for payload in payloads)
        == 3 * len(calls) - 4
    )
    assert await _grant_count(application_id) == 4
    assert await _events(GAINS) == {node_uuid(user_id): 1 for user_id in user_ids}


async def test_overlapping_bulk_revokes_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_ids = await _users(api, 4)
    data = await api(GRANT_TO_USERS, applicationId=application_id, userIds=user_ids)
    assert data["grantAccessToUsers"]["grantedCount"] == 4
    lists = [[user_ids[(start + step) % 4] for step in range(3)] for start in range(4)]
    calls = [
        (REVOKE_FROM_USERS, {"applicationId": application_id, "userIds": user_list})
        for user_list in lists * 2
    ]

    payloads = await _at_once(api, calls)

    assert sum(payload["revokedCount"] for payload in payloads) == 4
    assert sum(payload["notGrantedCount"] for payload in payloads) == 3 * len(calls) - 4
    assert await _grant_count(application_id) == 0
    assert await _events(LOSES) == {node_uuid(user_id): 1 for user_id in user_ids}


async def _folder_with_group(api: GraphQLClient, target: ScimTenant) -> tuple[str, str]:
    """Return an automatic application and its folder, which has a linked group."""
    application_id = await _automatic_application(api, target)
    folder_id = await create_folder(api, "Sales")
    await add_application_to_folder(api, folder_id, application_id)
    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)
    assert data["createGroup"]["errors"] == []
    return application_id, folder_id


async def test_concurrent_folder_adds_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    _application_id, folder_id = await _folder_with_group(api, scim_target)
    [user_id] = await _users(api, 1)
    variables = {"folderId": folder_id, "userId": user_id}

    payloads = await _at_once(api, [(ADD_USER, variables)] * CALLS)

    assert [payload["folder"] for payload in payloads] == [{"id": folder_id}] * CALLS
    assert await _count_rows(FolderUser) == 1
    assert await _events(GAINS) == {node_uuid(user_id): 1}
    assert await _events(GAINS, for_group=True) == {node_uuid(user_id): 1}


async def test_concurrent_folder_removes_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    _application_id, folder_id = await _folder_with_group(api, scim_target)
    [user_id] = await _users(api, 1)
    await add_user_to_folder(api, folder_id, user_id)
    variables = {"folderId": folder_id, "userId": user_id}

    payloads = await _at_once(api, [(REMOVE_USER, variables)] * CALLS)

    assert [payload["folder"] for payload in payloads] == [{"id": folder_id}] * CALLS
    assert await _count_rows(FolderUser) == 0
    assert await _events(LOSES) == {node_uuid(user_id): 1}
    assert await _events(LOSES, for_group=True) == {node_uuid(user_id): 1}


async def test_concurrent_folder_links_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    folder_id = await create_folder(api, "Sales")
    user_ids = await _users(api, 2)
    for user_id in user_ids:
        await add_user_to_folder(api, folder_id, user_id)
    variables = {"folderId": folder_id, "applicationId": application_id}

    payloads = await _at_once(api, [(ADD_APPLICATION, variables)] * CALLS)

    assert [payload["folder"] for payload in payloads] == [{"id": folder_id}] * CALLS
    assert await _count_rows(FolderApplication) == 1
    assert await _events(GAINS) == {node_uuid(user_id): 1 for user_id in user_ids}


async def test_concurrent_folder_unlinks_one_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    folder_id = await create_folder(api, "Sales")
    user_ids = await _users(api, 2)
    for user_id in user_ids:
        await add_user_to_folder(api, folder_id, user_id)
    await add_application_to_folder(api, folder_id, application_id)
    variables = {"folderId": folder_id, "applicationId": application_id}

    payloads = await _at_once(api, [(REMOVE_APPLICATION, variables)] * CALLS)

    assert [payload["folder"] for payload in payloads] == [{"id": folder_id}] * CALLS
    assert await _count_rows(FolderApplication) == 0
    assert await _events(LOSES) == {node_uuid(user_id): 1 for user_id in user_ids}
