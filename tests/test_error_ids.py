"""Error messages name objects by the global ids that clients use, never by UUID."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import pytest
from strawberry import relay

from api.graphql.core.ids import with_global_ids
from domain.db import session_scope
from domain.models import ProvisioningEvent, Ticket, TicketAction
from tests.support.fixtures import (
    create_application,
    create_folder,
    create_user,
    node_uuid,
)
from tests.support.graphql import GraphQLClient

RAW_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)

ERRORS = "errors { code message field }"

DEACTIVATE_USER = f"""
mutation($userId: ID!) {{
  deactivateUser(input: {{userId: $userId}}) {{ {ERRORS} }}
}}
"""

UPDATE_USER = f"""
mutation($userId: ID!, $email: String) {{
  updateUser(input: {{userId: $userId, email: $email}}) {{ {ERRORS} }}
}}
"""

CREATE_USER = f"""
mutation($email: String!) {{
  createUser(input: {{email: $email}}) {{ {ERRORS} }}
}}
"""

CREATE_FOLDER = f"""
mutation($name: String!) {{
  createFolder(input: {{name: $name}}) {{ {ERRORS} }}
}}
"""

CREATE_APPLICATION = f"""
mutation($name: String!) {{
  createApplication(input: {{name: $name}}) {{ {ERRORS} }}
}}
"""

GRANT_ACCESS = f"""
mutation($userId: ID!, $applicationId: ID!) {{
  grantAccess(input: {{userId: $userId, applicationId: $applicationId}}) {{ {ERRORS} }}
}}
"""

ADD_USER_TO_FOLDER = f"""
mutation($folderId: ID!, $userId: ID!) {{
  addUserToFolder(input: {{folderId: $folderId, userId: $userId}}) {{ {ERRORS} }}
}}
"""

CREATE_ACCOUNT = f"""
mutation($applicationId: ID!, $userId: ID!) {{
  createAccount(input: {{applicationId: $applicationId, userId: $userId}}) {{
    {ERRORS}
  }}
}}
"""

DELETE_ACCOUNT = f"""
mutation($accountId: ID!) {{
  deleteAccount(input: {{accountId: $accountId}}) {{ {ERRORS} }}
}}
"""

DELETE_GROUP = f"""
mutation($groupId: ID!) {{
  deleteGroup(input: {{groupId: $groupId}}) {{ {ERRORS} }}
}}
"""

RESOLVE_TICKET = f"""
mutation($ticketId: ID!) {{
  resolveTicket(input: {{ticketId: $ticketId}}) {{ {ERRORS} }}
}}
"""

DISMISS_TICKET = f"""
mutation($ticketId: ID!) {{
  dismissTicket(input: {{ticketId: $ticketId}}) {{ {ERRORS} }}
}}
"""

TICKETS = """
query {
  tickets { edges { node { id message resolution } } }
}
"""

PREVIEW = """
query($applicationId: ID!, $userId: ID!) {
  previewAccount(applicationId: $applicationId, userId: $userId) { action }
}
"""


def missing_id(type_name: str) -> str:
    return str(relay.GlobalID(type_name, str(uuid.uuid4())))


async def only_error(
    api: GraphQLClient, document: str, **variables: Any
) -> dict[str, Any]:
    data = await api(document, **variables)
    [payload] = data.values()
    [error] = payload["errors"]
    assert isinstance(error, dict)
    return error


async def open_ticket(application_id: str, message: str = "Check it.") -> str:
    async with session_scope() as session:
        ticket = Ticket(
            application_id=uuid.UUID(node_uuid(application_id)),
            event=ProvisioningEvent.USER_GAINS_ACCESS,
            action=TicketAction.CREATE_ACCOUNT,
            message=message,
        )
        session.add(ticket)
        await session.flush()
        ticket_id = ticket.id
    return str(relay.GlobalID("Ticket", str(ticket_id)))


async def test_not_found_shows_sent_ids(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    cases = [
        (DEACTIVATE_USER, {"userId": missing_id("User")}, "userId", "User"),
        (
            GRANT_ACCESS,
            {"userId": user_id, "applicationId": missing_id("Application")},
            "applicationId",
            "Application",
        ),
        (
            ADD_USER_TO_FOLDER,
            {"folderId": missing_id("Folder"), "userId": user_id},
            "folderId",
            "Folder",
        ),
        (
            RESOLVE_TICKET,
            {"ticketId": missing_id("Ticket")},
            "ticketId",
            "Ticket",
        ),
        (
            DELETE_ACCOUNT,
            {"accountId": missing_id("ScimAccount")},
            "accountId",
            "Account",
        ),
        (DELETE_GROUP, {"groupId": missing_id("ScimGroup")}, "groupId", "Group"),
    ]

    for document, variables, field, noun in cases:
        error = await only_error(api, document, **variables)

        sent = variables[field]
        assert error["code"] == "NOT_FOUND", error
        assert error["field"] == [field], error
        assert error["message"].startswith(f"{noun} {sent} was not found"), error
        assert not RAW_UUID.search(error["message"]), error


async def test_not_found_keeps_odd_spelling(api: GraphQLClient) -> None:
    # Base64 decoding skips the space, so the id is valid as sent.
    canonical = missing_id("User")
    spaced = f"{canonical[:8]} {canonical[8:]}"

    error = await only_error(api, DEACTIVATE_USER, userId=spaced)

    assert error["code"] == "NOT_FOUND"
    assert (
        error["message"]
        == f"User {spaced!r} was not found; check the id against the `users` query."
    )


async def test_email_conflict_names_owner(api: GraphQLClient) -> None:
    owner_id = await create_user(api, "ada@example.com", givenName="Ada")
    other_id = await create_user(api, "grace@example.com")
    unnamed_id = await create_user(api, "alan@example.com")

    created = await only_error(api, CREATE_USER, email="ADA@example.com")
    updated = await only_error(
        api, UPDATE_USER, userId=other_id, email="ada@example.com"
    )
    unnamed = await only_error(api, CREATE_USER, email="alan@example.com")

    assert created["code"] == "ALREADY_EXISTS"
    assert created["message"] == (
        "Email 'ADA@example.com' already belongs to user 'ada@example.com' "
        f"(Ada, {owner_id}); use that user or another address."
    )
    assert updated["message"] == (
        "Email 'ada@example.com' already belongs to user 'ada@example.com' "
        f"(Ada, {owner_id}); use that user or another address."
    )
    assert unnamed["message"] == (
        "Email 'alan@example.com' already belongs to user 'alan@example.com' "
        f"({unnamed_id}); use that user or another address."
    )


async def test_name_conflicts_show_ids(api: GraphQLClient) -> None:
    folder_id = await create_folder(api, "Sales")
    application_id = await create_application(api, "Acme CRM")

    folder = await only_error(api, CREATE_FOLDER, name="Sales")
    application = await only_error(api, CREATE_APPLICATION, name="acme crm")

    assert folder["message"] == (
        f"Folder 'Sales' already exists ({folder_id}); choose another name."
    )
    assert application["message"] == (
        f"Application 'acme crm' already exists ({application_id}); choose "
        "another name."
    )


async def test_closed_ticket_shows_sent_id(api: GraphQLClient) -> None:
    ticket_id = await open_ticket(await create_application(api))
    first = await api(DISMISS_TICKET, ticketId=ticket_id)

    error = await only_error(api, DISMISS_TICKET, ticketId=ticket_id)

    assert first["dismissTicket"]["errors"] == []
    assert error["code"] == "TICKET_CLOSED"
    assert error["message"] == (
        f"Ticket {ticket_id} is already dismissed; there is nothing left to do on it."
    )


async def test_no_raw_uuid_in_errors(api: GraphQLClient) -> None:
    application_id = await create_application(api, "Acme CRM")
    user_id = await create_user(api, "ada@example.com", givenName="Ada")
    other_id = await create_user(api, "grace@example.com")
    await create_folder(api, "Sales")
    ticket_id = await open_ticket(application_id)
    await api(DISMISS_TICKET, ticketId=ticket_id)
    cases = [
        (DEACTIVATE_USER, {"userId": missing_id("User")}),
        (UPDATE_USER, {"userId": other_id, "email": "ada@example.com"}),
        (CREATE_USER, {"email": "ada@example.com"}),
        (CREATE_FOLDER, {"name": "sales"}),
        (CREATE_APPLICATION, {"name": "Acme CRM"}),
        (GRANT_ACCESS, {"userId": missing_id("User"), "applicationId": application_id}),
        (GRANT_ACCESS, {"userId": user_id, "applicationId": missing_id("Application")}),
        (ADD_USER_TO_FOLDER, {"folderId": missing_id("Folder"), "userId": user_id}),
        (CREATE_ACCOUNT, {"applicationId": application_id, "userId": user_id}),
        (DELETE_ACCOUNT, {"accountId": missing_id("ScimAccount")}),
        (DELETE_GROUP, {"groupId": missing_id("ScimGroup")}),
        (RESOLVE_TICKET, {"ticketId": missing_id("Ticket")}),
        (DISMISS_TICKET, {"ticketId": ticket_id}),
    ]

    for document, variables in cases:
        error = await only_error(api, document, **variables)

        assert not RAW_UUID.search(error["message"]), (variables, error)


async def test_query_error_shows_sent_id(
    api: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    application_id = await create_application(api)
    user_id = await create_user(api, "ada@example.com")
    caplog.set_level(logging.INFO, logger="api.graphql.core.masking")

    body = await api.execute(PREVIEW, applicationId=application_id, userId=user_id)

    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_CONNECTED"
    assert error["message"].startswith(f"Application {application_id} is not")
    assert not RAW_UUID.search(error["message"])
    # The server log keeps the raw UUID, by which the database finds the row.
    assert node_uuid(application_id) in caplog.text


async def test_ticket_text_shows_global_ids(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    raw = node_uuid(application_id)
    await open_ticket(
        application_id,
        f"Automatic provisioning failed: Application {raw} is not connected.",
    )

    data = await api(TICKETS)

    [edge] = data["tickets"]["edges"]
    assert edge["node"]["message"] == (
        f"Automatic provisioning failed: Application {application_id} is not connected."
    )


def test_quoted_uuid_stays_raw() -> None:
    # A quoted UUID is a value the SCIM target holds, such as an externalId.
    user_uuid = uuid.uuid4()
    references = {user_uuid: "User"}
    global_id = relay.to_base64("User", str(user_uuid))

    quoted = with_global_ids(f"No account with externalId '{user_uuid}'.", references)
    in_path = with_global_ids(f"GET /Users/{user_uuid} failed.", references)
    plain = with_global_ids(f"User {user_uuid} failed.", references)
    unknown = with_global_ids(f"User {user_uuid} failed.")

    assert quoted == f"No account with externalId '{user_uuid}'."
    assert in_path == f"GET /Users/{user_uuid} failed."
    assert plain == f"User {global_id} failed."
    assert unknown == f"User {user_uuid} failed."
