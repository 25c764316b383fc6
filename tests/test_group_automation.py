"""Linked groups follow folder membership under the Settings modes."""

from __future__ import annotations

from typing import Any

from tests.support.fixtures import (
    account_ids,
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_application,
    create_folder,
    create_user,
    outbox_settled,
    refresh,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

CREATE_GROUP = """
mutation($applicationId: ID!, $folderId: ID!) {
  createGroup(input: {applicationId: $applicationId, folderId: $folderId}) {
    group { scimId } errors { code message }
  }
}
"""

REMOVE_USER = """
mutation($f: ID!, $u: ID!) {
  removeUserFromFolder(input: {folderId: $f, userId: $u}) { errors { message } }
}
"""

OPEN_TICKETS = """
query { tickets(status: OPEN) {
  edges { node { id action message folder { name } } } } }
"""

RESOLVE = """
mutation($id: ID!) { resolveTicket(input: {ticketId: $id}) {
  ticket { status resolution } errors { code message } } }
"""


async def _group_with_folder(
    api: GraphQLClient, target: ScimTenant, mode: str
) -> tuple[str, str, str]:
    """Connect an application, link a group to a folder, and set both modes."""
    application_id = await create_application(api)
    await connect(api, application_id, target)
    folder_id = await create_folder(api, "Sales")
    await add_application_to_folder(api, folder_id, application_id)
    data = await api(CREATE_GROUP, applicationId=application_id, folderId=folder_id)
    assert data["createGroup"]["errors"] == []
    await update_settings(
        api, application_id, userGainsAccess=mode, userLosesAccess=mode
    )
    return application_id, folder_id, data["createGroup"]["group"]["scimId"]


def _member_names(target: ScimTenant, group_id: str) -> list[str]:
    users = {user["id"]: user["userName"] for user in target.users()}
    return sorted(users[member] for member in target.member_ids(group_id))


async def test_joining_folder_joins_group(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    _, folder_id, group_id = await _group_with_folder(api, scim_target, "AUTOMATIC")
    user_id = await create_user(api, "ada@example.org")

    await add_user_to_folder(api, folder_id, user_id)

    await wait_until(outbox_settled, what="account and group sync")
    assert _member_names(scim_target, group_id) == ["ada@example.org"]


async def test_leaving_folder_leaves_group(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    _, folder_id, group_id = await _group_with_folder(api, scim_target, "AUTOMATIC")
    stays = await create_user(api, "stays@example.org")
    leaves = await create_user(api, "leaves@example.org")
    await add_user_to_folder(api, folder_id, stays)
    await add_user_to_folder(api, folder_id, leaves)
    await wait_until(outbox_settled, what="joins")
    assert _member_names(scim_target, group_id) == [
        "leaves@example.org",
        "stays@example.org",
    ]

    await api(REMOVE_USER, f=folder_id, u=leaves)

    await wait_until(outbox_settled, what="leave")
    assert _member_names(scim_target, group_id) == ["stays@example.org"]


async def test_notification_asks_to_sync(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, folder_id, group_id = await _group_with_folder(
        api, scim_target, "NOTIFICATION"
    )
    user_id = await create_user(api, "ada@example.org")
    await add_user_to_folder(api, folder_id, user_id)
    tickets: list[dict[str, Any]] = [
        edge["node"] for edge in (await api(OPEN_TICKETS))["tickets"]["edges"]
    ]
    by_action = {ticket["action"]: ticket for ticket in tickets}
    assert set(by_action) == {"CREATE_ACCOUNT", "SYNC_GROUP_MEMBERS"}
    assert by_action["SYNC_GROUP_MEMBERS"]["folder"] == {"name": "Sales"}

    await api(RESOLVE, id=by_action["CREATE_ACCOUNT"]["id"])
    data = await api(RESOLVE, id=by_action["SYNC_GROUP_MEMBERS"]["id"])

    assert data["resolveTicket"]["errors"] == []
    assert data["resolveTicket"]["ticket"]["resolution"] == (
        "Group members in line: 1 added, 0 removed."
    )
    assert _member_names(scim_target, group_id) == ["ada@example.org"]


ASSOCIATE = """
mutation($accountId: ID!, $userId: ID!) {
  associateMembership(input: {accountId: $accountId, userId: $userId}) {
    errors { code message }
  }
}
"""


async def _member_without_account(
    api: GraphQLClient, target: ScimTenant, mode: str
) -> tuple[str, str, str, str]:
    """Link a group to folder Sales while its member bob has no linked account,
    then give bob an unlinked account in the target and set both modes."""
    application_id, folder_id, group_id = await _group_with_folder(
        api, target, "MANUAL"
    )
    bob = await create_user(api, "bob@example.org")
    await add_user_to_folder(api, folder_id, bob)
    target.create_user("bob@example.org")
    await refresh(api, application_id)
    await update_settings(
        api, application_id, userGainsAccess=mode, userLosesAccess=mode
    )
    account_id = (await account_ids(api, application_id))["bob@example.org"]
    return application_id, group_id, bob, account_id


async def test_associated_account_joins_group(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    _, group_id, bob, account_id = await _member_without_account(
        api, scim_target, "AUTOMATIC"
    )
    assert _member_names(scim_target, group_id) == []

    data = await api(ASSOCIATE, accountId=account_id, userId=bob)

    assert data["associateMembership"]["errors"] == []
    await wait_until(outbox_settled, what="group sync")
    assert _member_names(scim_target, group_id) == ["bob@example.org"]


async def test_associated_account_asks_to_sync(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    _, group_id, bob, account_id = await _member_without_account(
        api, scim_target, "NOTIFICATION"
    )

    await api(ASSOCIATE, accountId=account_id, userId=bob)

    tickets = [edge["node"] for edge in (await api(OPEN_TICKETS))["tickets"]["edges"]]
    assert [ticket["action"] for ticket in tickets] == ["SYNC_GROUP_MEMBERS"]
    assert tickets[0]["folder"] == {"name": "Sales"}
    assert _member_names(scim_target, group_id) == []


async def test_associated_account_manual_waits(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    _, group_id, bob, account_id = await _member_without_account(
        api, scim_target, "MANUAL"
    )

    await api(ASSOCIATE, accountId=account_id, userId=bob)

    assert (await api(OPEN_TICKETS))["tickets"]["edges"] == []
    assert await outbox_settled()
    assert _member_names(scim_target, group_id) == []
