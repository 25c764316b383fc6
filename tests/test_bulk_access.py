"""grantAccessToUsers and revokeAccessFromUsers: many direct grants in one call."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlmodel import col, select
from strawberry import relay

from domain.access_bulk import MAX_USERS_PER_CALL
from domain.db import session_scope
from domain.models import AccessGrant, OutboxEvent, TokenRole, User
from domain.tokens import create_token
from tests.support.fixtures import (
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_application,
    create_folder,
    create_user,
    grant_access,
    node_uuid,
    operations,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant
from tests.test_query_count import count_statements

GRANT_TO_USERS = """
mutation($applicationId: ID!, $userIds: [ID!]!) {
  grantAccessToUsers(input: {applicationId: $applicationId, userIds: $userIds}) {
    application { id name }
    users { id email }
    grantedCount
    alreadyGrantedCount
    errors { code message field }
  }
}
"""

REVOKE_FROM_USERS = """
mutation($applicationId: ID!, $userIds: [ID!]!) {
  revokeAccessFromUsers(input: {applicationId: $applicationId, userIds: $userIds}) {
    application { id }
    users { id email }
    revokedCount
    notGrantedCount
    usersWithFolderAccess { id }
    errors { code message field }
  }
}
"""

TICKETS = """
query($applicationId: ID) {
  tickets(applicationId: $applicationId, status: OPEN, first: 100) {
    totalCount
    edges { node { event action user { email } } }
  }
}
"""


async def _grant(
    api: GraphQLClient, application_id: str, user_ids: list[str]
) -> dict[str, Any]:
    data = await api(GRANT_TO_USERS, applicationId=application_id, userIds=user_ids)
    payload: dict[str, Any] = data["grantAccessToUsers"]
    return payload


async def _revoke(
    api: GraphQLClient, application_id: str, user_ids: list[str]
) -> dict[str, Any]:
    data = await api(REVOKE_FROM_USERS, applicationId=application_id, userIds=user_ids)
    payload: dict[str, Any] = data["revokeAccessFromUsers"]
    return payload


async def _users(api: GraphQLClient, count: int, prefix: str = "user") -> list[str]:
    return [
        await create_user(api, f"{prefix}{index:02}@example.org")
        for index in range(count)
    ]


async def _granted_emails(application_id: str) -> list[str]:
    """Return the emails of the users holding a direct grant, sorted."""
    async with session_scope() as session:
        statement = (
            select(User.email)
            .join(AccessGrant, col(AccessGrant.user_id) == col(User.id))
            .where(AccessGrant.application_id == uuid.UUID(node_uuid(application_id)))
            .order_by(col(User.email))
        )
        return list(await session.exec(statement))


async def _events() -> list[OutboxEvent]:
    async with session_scope() as session:
        statement = select(OutboxEvent).order_by(col(OutboxEvent.sequence))
        return list(await session.exec(statement))


async def _automatic_application(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(
        api, application_id, userGainsAccess="AUTOMATIC", userLosesAccess="AUTOMATIC"
    )
    return application_id


async def test_grant_to_users_counts(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_ids = await _users(api, 3)
    await grant_access(api, user_ids[1], application_id)

    payload = await _grant(api, application_id, user_ids)

    assert payload["errors"] == []
    assert payload["grantedCount"] == 2
    assert payload["alreadyGrantedCount"] == 1
    assert payload["application"] == {"id": application_id, "name": "Acme CRM"}
    assert [user["id"] for user in payload["users"]] == user_ids
    assert await _granted_emails(application_id) == [
        "user00@example.org",
        "user01@example.org",
        "user02@example.org",
    ]


async def test_grant_to_users_twice(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_ids = await _users(api, 3)
    first = await _grant(api, application_id, user_ids)

    second = await _grant(api, application_id, list(reversed(user_ids)))

    assert first["grantedCount"] == 3
    assert second["errors"] == []
    assert second["grantedCount"] == 0
    assert second["alreadyGrantedCount"] == 3
    assert [user["id"] for user in second["users"]] == list(reversed(user_ids))
    assert len(await _granted_emails(application_id)) == 3


async def test_grant_empty_list(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    payload = await _grant(api, application_id, [])

    assert payload["errors"] == []
    assert payload["users"] == []
    assert payload["grantedCount"] == 0
    assert payload["alreadyGrantedCount"] == 0


async def test_grant_unknown_user_grants_nothing(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_ids = await _users(api, 2)
    missing = str(uuid.uuid4())
    missing_id = str(relay.GlobalID("User", missing))

    payload = await _grant(api, application_id, [user_ids[0], missing_id, user_ids[1]])

    assert payload["users"] is None
    assert payload["application"] is None
    assert payload["grantedCount"] == 0
    assert payload["errors"] == [
        {
            "code": "NOT_FOUND",
            "message": f"User {missing_id} (userIds[1]) was not found; remove it "
            "from the list, or create the user first.",
            "field": ["userIds", "1"],
        }
    ]
    assert await _granted_emails(application_id) == []


async def test_grant_reports_each_bad_id(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    [user_id] = await _users(api, 1)
    missing = str(relay.GlobalID("User", str(uuid.uuid4())))
    ids = [
        "not-an-id",
        user_id,
        application_id,
        missing,
        user_id,
    ]

    payload = await _grant(api, application_id, ids)

    assert [error["field"] for error in payload["errors"]] == [
        ["userIds", "0"],
        ["userIds", "2"],
        ["userIds", "3"],
        ["userIds", "4"],
    ]
    assert [error["code"] for error in payload["errors"]] == [
        "INVALID",
        "INVALID",
        "NOT_FOUND",
        "INVALID",
    ]
    messages = [error["message"] for error in payload["errors"]]
    assert messages[0] == (
        "userIds[0] 'not-an-id' is not the id of a User; pass the `id` of a "
        "User object."
    )
    assert messages[1].startswith(f"userIds[2] {application_id!r} is not the id")
    assert messages[2].startswith(f"User {missing} (userIds[3]) was not found")
    assert messages[3] == (
        f"userIds[4] repeats user {user_id}, already at userIds[1]; "
        "list each user once."
    )
    assert await _granted_emails(application_id) == []


async def test_grant_duplicate_ids_rejected(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_ids = await _users(api, 2)

    payload = await _grant(api, application_id, [*user_ids, user_ids[0]])

    [error] = payload["errors"]
    assert error["code"] == "INVALID"
    assert error["field"] == ["userIds", "2"]
    assert error["message"] == (
        f"userIds[2] repeats user {user_ids[0]}, already at userIds[0]; list "
        "each user once."
    )
    assert payload["grantedCount"] == 0
    assert await _granted_emails(application_id) == []


async def test_grant_unknown_application(api: GraphQLClient) -> None:
    user_ids = await _users(api, 1)
    missing = str(relay.GlobalID("Application", str(uuid.uuid4())))
    bad_user = str(relay.GlobalID("User", str(uuid.uuid4())))

    payload = await _grant(api, missing, [*user_ids, bad_user])

    assert [error["field"] for error in payload["errors"]] == [
        ["applicationId"],
        ["userIds", "1"],
    ]
    assert payload["errors"][0] == {
        "code": "NOT_FOUND",
        "message": f"Application {missing} was not found; check the id against the "
        "`applications` query.",
        "field": ["applicationId"],
    }
    async with session_scope() as session:
        assert list(await session.exec(select(AccessGrant))) == []


async def test_grant_over_limit(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    [user_id] = await _users(api, 1)
    count = MAX_USERS_PER_CALL + 1

    payload = await _grant(api, application_id, [user_id] * count)

    assert payload["errors"] == [
        {
            "code": "INVALID",
            "message": f"userIds has {count} ids; the maximum is "
            f"{MAX_USERS_PER_CALL}. Split the list into calls of at most "
            f"{MAX_USERS_PER_CALL} ids.",
            "field": ["userIds"],
        }
    ]
    assert await _granted_emails(application_id) == []


async def test_grant_at_limit(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    [user_id] = await _users(api, 1)

    payload = await _grant(api, application_id, [user_id] * MAX_USERS_PER_CALL)

    # The list is not over the maximum, so it is checked id by id, and only
    # the repeats are at fault.
    assert len(payload["errors"]) == MAX_USERS_PER_CALL - 1
    assert payload["errors"][0]["field"] == ["userIds", "1"]


async def test_automatic_grant_creates_accounts(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_ids = await _users(api, 5)

    payload = await _grant(api, application_id, user_ids)

    assert payload["grantedCount"] == 5
    await wait_until(outbox_settled, what="automatic events still running")
    assert sorted(user["userName"] for user in scim_target.users()) == [
        f"user{index:02}@example.org" for index in range(5)
    ]
    log = await operations(api, application_id)
    assert [entry["action"] for entry in log] == ["CREATE_ACCOUNT"] * 5
    assert {entry["status"] for entry in log} == {"SUCCEEDED"}
    assert {entry["trigger"] for entry in log} == {"automatic:USER_GAINS_ACCESS"}


async def test_automatic_revoke_deactivates_accounts(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_ids = await _users(api, 3)
    await _grant(api, application_id, user_ids)
    await wait_until(outbox_settled, what="creations still running")
    assert [user["active"] for user in scim_target.users()] == [True] * 3

    payload = await _revoke(api, application_id, user_ids)

    assert payload["revokedCount"] == 3
    await wait_until(outbox_settled, what="deactivations still running")
    assert [user["active"] for user in scim_target.users()] == [False] * 3
    log = await operations(api, application_id)
    assert sorted(entry["action"] for entry in log) == [
        "CREATE_ACCOUNT",
        "CREATE_ACCOUNT",
        "CREATE_ACCOUNT",
        "DEACTIVATE_ACCOUNT",
        "DEACTIVATE_ACCOUNT",
        "DEACTIVATE_ACCOUNT",
    ]


async def test_bulk_event_matches_single_grant(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    single, bulk = await _users(api, 2)

    await grant_access(api, single, application_id)
    await _grant(api, application_id, [bulk])

    by_user = {str(each.user_id): each for each in await _events()}
    assert sorted(by_user) == sorted([node_uuid(single), node_uuid(bulk)])
    from_single = by_user[node_uuid(single)]
    from_bulk = by_user[node_uuid(bulk)]
    assert from_bulk.event == from_single.event
    assert from_bulk.application_id == from_single.application_id
    assert from_bulk.details == from_single.details
    assert from_bulk.status == from_single.status
    assert from_bulk.attempts == from_single.attempts == 0


async def test_notification_grant_opens_tickets(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    await update_settings(api, application_id, userGainsAccess="NOTIFICATION")
    user_ids = await _users(api, 4)

    payload = await _grant(api, application_id, user_ids)

    assert payload["grantedCount"] == 4
    data = await api(TICKETS, applicationId=application_id)
    tickets = [edge["node"] for edge in data["tickets"]["edges"]]
    assert data["tickets"]["totalCount"] == 4
    assert sorted(ticket["user"]["email"] for ticket in tickets) == [
        f"user{index:02}@example.org" for index in range(4)
    ]
    assert {ticket["event"] for ticket in tickets} == {"USER_GAINS_ACCESS"}
    assert {ticket["action"] for ticket in tickets} == {"CREATE_ACCOUNT"}
    assert scim_target.users() == []


async def test_folder_member_gains_no_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    member, outsider = await _users(api, 2)
    folder_id = await create_folder(api, "Sales")
    await add_user_to_folder(api, folder_id, member)
    await add_application_to_folder(api, folder_id, application_id)
    [folder_event] = await _events()

    payload = await _grant(api, application_id, [member, outsider])

    assert payload["grantedCount"] == 2
    events = await _events()
    assert len(events) == 2
    assert events[0].id == folder_event.id
    assert str(events[1].user_id) == node_uuid(outsider)
    assert events[1].event.value == "USER_GAINS_ACCESS"


async def test_grant_query_count_fixed(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    few = await _users(api, 2, prefix="few")
    many = await _users(api, 20, prefix="many")

    with count_statements() as for_few:
        assert (await _grant(api, application_id, few))["grantedCount"] == 2
    with count_statements() as for_many:
        assert (await _grant(api, application_id, many))["grantedCount"] == 20

    assert len(await _events()) == 22
    assert len(for_many) == len(for_few), for_many


async def test_viewer_cannot_grant(api: GraphQLClient) -> None:
    from api.app import create_app

    application_id = await create_application(api)
    user_ids = await _users(api, 2)
    async with session_scope() as session:
        _token, secret = await create_token(session, "auditor", TokenRole.VIEWER)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(run_worker=False)),
        base_url="http://smartlink.test",
        headers={"Authorization": f"Bearer {secret}"},
    ) as http:
        viewer = GraphQLClient(http)
        body = await viewer.execute(
            GRANT_TO_USERS, applicationId=application_id, userIds=user_ids
        )

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "'auditor' has the viewer role" in error["message"]
    assert await _granted_emails(application_id) == []


async def test_revoke_from_users_counts(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_ids = await _users(api, 3)
    await _grant(api, application_id, user_ids[:2])

    payload = await _revoke(api, application_id, user_ids)

    assert payload["errors"] == []
    assert payload["revokedCount"] == 2
    assert payload["notGrantedCount"] == 1
    assert [user["id"] for user in payload["users"]] == user_ids
    assert await _granted_emails(application_id) == []


async def test_revoke_unknown_user_revokes_nothing(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    user_ids = await _users(api, 2)
    await _grant(api, application_id, user_ids)
    missing = str(relay.GlobalID("User", str(uuid.uuid4())))

    payload = await _revoke(api, application_id, [*user_ids, missing])

    assert [error["field"] for error in payload["errors"]] == [["userIds", "2"]]
    assert payload["revokedCount"] == 0
    assert len(await _granted_emails(application_id)) == 2


async def test_automatic_revoke_emits_losses(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    member, outsider, never_granted = await _users(api, 3)
    folder_id = await create_folder(api, "Sales")
    await add_user_to_folder(api, folder_id, member)
    await add_application_to_folder(api, folder_id, application_id)
    await _grant(api, application_id, [member, outsider])
    before = len(await _events())

    payload = await _revoke(api, application_id, [member, outsider, never_granted])

    assert payload["revokedCount"] == 2
    assert payload["notGrantedCount"] == 1
    assert payload["usersWithFolderAccess"] == [{"id": member}]
    # The member keeps access through the folder, so only the outsider loses it.
    [loss] = (await _events())[before:]
    assert str(loss.user_id) == node_uuid(outsider)
    assert loss.event.value == "USER_LOSES_ACCESS"


async def test_revoke_query_count_fixed(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    few = await _users(api, 2, prefix="few")
    many = await _users(api, 20, prefix="many")
    await _grant(api, application_id, [*few, *many])

    with count_statements() as for_few:
        assert (await _revoke(api, application_id, few))["revokedCount"] == 2
    with count_statements() as for_many:
        assert (await _revoke(api, application_id, many))["revokedCount"] == 20

    losses = [e for e in await _events() if e.event.value == "USER_LOSES_ACCESS"]
    assert len(losses) == 22
    assert len(for_many) == len(for_few), for_many
