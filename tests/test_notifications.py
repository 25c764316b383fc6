"""Notification mode: tickets in SmartLink messaging and their lifecycle."""

from __future__ import annotations

from typing import Any

from tests.support.fixtures import (
    connect,
    create_application,
    create_user,
    grant_access,
    update_settings,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

TICKETS = """
query($status: TicketStatus, $applicationId: ID) {
  tickets(status: $status, applicationId: $applicationId) {
    totalCount
    edges { node { id event status action message resolution user { email }
                   application { name } } }
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

UPDATE_USER = """
mutation($userId: ID!, $familyName: String) {
  updateUser(input: {userId: $userId, familyName: $familyName}) {
    errors { code message }
  }
}
"""

RESOLVE = """
mutation($ticketId: ID!) {
  resolveTicket(input: {ticketId: $ticketId}) {
    ticket { status resolution }
    errors { code message }
  }
}
"""

DISMISS = """
mutation($ticketId: ID!) {
  dismissTicket(input: {ticketId: $ticketId}) {
    ticket { status resolution }
    errors { code message }
  }
}
"""


async def _tickets(api: GraphQLClient, **filters: Any) -> list[dict[str, Any]]:
    data = await api(TICKETS, **filters)
    return [edge["node"] for edge in data["tickets"]["edges"]]


async def _notified_application(
    api: GraphQLClient, target: ScimTenant, job_worker: None
) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(
        api,
        application_id,
        userGainsAccess="NOTIFICATION",
        userLosesAccess="NOTIFICATION",
        userUpdated="NOTIFICATION",
    )
    return application_id


async def test_gaining_access_opens_ticket(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "ada@example.org", givenName="Ada")

    await grant_access(api, user_id, application_id)

    [ticket] = await _tickets(api, status="OPEN")
    assert ticket["event"] == "USER_GAINS_ACCESS"
    assert ticket["action"] == "CREATE_ACCOUNT"
    assert ticket["user"] == {"email": "ada@example.org"}
    assert ticket["application"] == {"name": "Acme CRM"}
    assert ticket["message"].startswith("Ada (ada@example.org) ")
    assert "create their account" in ticket["message"]
    assert scim_target.users() == []


async def test_ticket_names_user_without_name(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "bo@example.org")

    await grant_access(api, user_id, application_id)

    [ticket] = await _tickets(api, status="OPEN")
    assert ticket["message"].startswith("bo@example.org ")
    assert "(bo@example.org)" not in ticket["message"]


async def test_second_change_updates_open_ticket(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "ada@example.org", givenName="Ada")
    await grant_access(api, user_id, application_id)

    await api(UPDATE_USER, userId=user_id, familyName="Lovelace")

    tickets = await _tickets(api)
    assert len(tickets) == 1
    assert tickets[0]["status"] == "OPEN"
    assert tickets[0]["action"] == "CREATE_ACCOUNT"


async def test_undone_change_closes_ticket(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)

    await api(REVOKE, userId=user_id, applicationId=application_id)

    [ticket] = await _tickets(api)
    assert ticket["status"] == "RESOLVED"
    assert ticket["resolution"] == "The change was undone before anyone acted on it."
    assert await _tickets(api, status="OPEN") == []


async def test_resolve_performs_action(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "ada@example.org", givenName="Ada")
    await grant_access(api, user_id, application_id)
    [ticket] = await _tickets(api, status="OPEN")

    data = await api(RESOLVE, ticketId=ticket["id"])

    assert data["resolveTicket"]["errors"] == []
    assert data["resolveTicket"]["ticket"]["status"] == "RESOLVED"
    assert "ada@example.org" in data["resolveTicket"]["ticket"]["resolution"]
    assert [u["userName"] for u in scim_target.users()] == ["ada@example.org"]


async def test_resolve_twice_refused(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    [ticket] = await _tickets(api, status="OPEN")
    await api(RESOLVE, ticketId=ticket["id"])

    data = await api(RESOLVE, ticketId=ticket["id"])

    errors = data["resolveTicket"]["errors"]
    assert [e["code"] for e in errors] == ["TICKET_CLOSED"]
    assert len(scim_target.users()) == 1


async def test_dismiss_leaves_target_alone(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    [ticket] = await _tickets(api, status="OPEN")

    data = await api(DISMISS, ticketId=ticket["id"])

    assert data["dismissTicket"]["ticket"]["status"] == "DISMISSED"
    assert scim_target.users() == []
    assert await _tickets(api, status="OPEN") == []


async def test_manual_mode_opens_nothing(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    user_id = await create_user(api, "ada@example.org")

    await grant_access(api, user_id, application_id)

    assert await _tickets(api) == []
    assert scim_target.users() == []


async def test_losing_access_asks_to_deactivate(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    create = await api(
        "mutation($a: ID!, $u: ID!) { createAccount(input: {applicationId: $a, "
        "userId: $u}) { errors { message } } }",
        a=application_id,
        u=user_id,
    )
    assert create["createAccount"]["errors"] == []
    await update_settings(api, application_id, userLosesAccess="NOTIFICATION")

    await api(REVOKE, userId=user_id, applicationId=application_id)

    [ticket] = await _tickets(api, status="OPEN")
    assert ticket["event"] == "USER_LOSES_ACCESS"
    assert ticket["action"] == "DEACTIVATE_ACCOUNT"
    await api(RESOLVE, ticketId=ticket["id"])
    [account] = scim_target.users()
    assert account["active"] is False


async def test_tickets_filter_by_application(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _notified_application(api, scim_target, job_worker)
    other_id = await create_application(api, "Other")
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)

    assert len(await _tickets(api, applicationId=application_id)) == 1
    assert await _tickets(api, applicationId=other_id) == []
