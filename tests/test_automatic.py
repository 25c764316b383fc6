"""Automatic mode: jobs act on a real scim2-server when access changes."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from domain.db import session_scope
from domain.models import EventStatus, OutboxEvent
from tests.support.fixtures import (
    connect,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

ALL_AUTOMATIC = {
    "userGainsAccess": "AUTOMATIC",
    "userLosesAccess": "AUTOMATIC",
    "userDeactivated": "AUTOMATIC",
    "userUpdated": "AUTOMATIC",
}

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

FOLDER = """
mutation($name: String!) { createFolder(input: {name: $name}) { folder { id } } }
"""

ADD_USER = """
mutation($f: ID!, $u: ID!) {
  addUserToFolder(input: {folderId: $f, userId: $u}) { errors { message } }
}
"""

ADD_APPLICATION = """
mutation($f: ID!, $a: ID!) {
  addApplicationToFolder(input: {folderId: $f, applicationId: $a}) {
    errors { message }
  }
}
"""

DEACTIVATE = """
mutation($u: ID!) { deactivateUser(input: {userId: $u}) { errors { message } } }
"""

UPDATE_USER = """
mutation($u: ID!, $email: String, $familyName: String) {
  updateUser(input: {userId: $u, email: $email, familyName: $familyName}) {
    errors { message }
  }
}
"""

OPERATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations { edges { node { action status trigger targetStatus } } }
      }
    }
  }
}
"""


async def _automatic_application(
    api: GraphQLClient, target: ScimTenant, **settings: Any
) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(api, application_id, **{**ALL_AUTOMATIC, **settings})
    return application_id


def _user_names(target: ScimTenant) -> list[str]:
    return sorted(user["userName"] for user in target.users())


async def _settled(target: ScimTenant) -> None:
    await wait_until(outbox_settled, what="automatic events still running")


async def test_grant_creates_account(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org", givenName="Ada")

    await grant_access(api, user_id, application_id)

    await _settled(scim_target)
    [account] = scim_target.users()
    assert account["userName"] == "ada@example.org"
    assert account["name"]["givenName"] == "Ada"
    data = await api(OPERATIONS, id=application_id)
    [operation] = [
        e["node"] for e in data["node"]["provisioning"]["operations"]["edges"]
    ]
    assert operation == {
        "action": "CREATE_ACCOUNT",
        "status": "SUCCEEDED",
        "trigger": "automatic:USER_GAINS_ACCESS",
        "targetStatus": 201,
    }


async def test_folder_gaining_application(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    folder_id = (await api(FOLDER, name="Sales"))["createFolder"]["folder"]["id"]
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        user_id = await create_user(api, email)
        await api(ADD_USER, f=folder_id, u=user_id)
    assert scim_target.users() == []

    await api(ADD_APPLICATION, f=folder_id, a=application_id)

    await _settled(scim_target)
    assert _user_names(scim_target) == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
    ]


async def test_losing_access_deactivates(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    await _settled(scim_target)

    await api(REVOKE, userId=user_id, applicationId=application_id)

    await _settled(scim_target)
    [account] = scim_target.users()
    assert account["active"] is False


async def test_losing_access_deletes_when_set(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(
        api, scim_target, deprovisionAction="DELETE"
    )
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    await _settled(scim_target)

    await api(REVOKE, userId=user_id, applicationId=application_id)

    await _settled(scim_target)
    assert scim_target.users() == []


async def test_access_through_folder_kept(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(
        api, scim_target, deprovisionAction="DELETE"
    )
    user_id = await create_user(api, "ada@example.org")
    folder_id = (await api(FOLDER, name="Sales"))["createFolder"]["folder"]["id"]
    await api(ADD_USER, f=folder_id, u=user_id)
    await api(ADD_APPLICATION, f=folder_id, a=application_id)
    await grant_access(api, user_id, application_id)
    await _settled(scim_target)

    await api(REVOKE, userId=user_id, applicationId=application_id)

    await _settled(scim_target)
    [account] = scim_target.users()
    assert account["active"] is True


async def test_deactivation_deactivates_account(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    await _settled(scim_target)

    await api(DEACTIVATE, u=user_id)

    await _settled(scim_target)
    [account] = scim_target.users()
    assert account["active"] is False


async def test_update_changes_attributes(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org", familyName="Byron")
    await grant_access(api, user_id, application_id)
    await _settled(scim_target)

    await api(
        UPDATE_USER, u=user_id, email="ada.lovelace@example.org", familyName="Lovelace"
    )

    await _settled(scim_target)
    [account] = scim_target.users()
    assert account["userName"] == "ada.lovelace@example.org"
    assert account["name"]["familyName"] == "Lovelace"
    assert [e["value"] for e in account["emails"]] == ["ada.lovelace@example.org"]


async def test_gain_then_loss_applies_in_order(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await _automatic_application(
        api, scim_target, deprovisionAction="DELETE"
    )
    user_id = await create_user(api, "ada@example.org")

    await grant_access(api, user_id, application_id)
    await api(REVOKE, userId=user_id, applicationId=application_id)
    await grant_access(api, user_id, application_id)

    await _settled(scim_target)
    assert _user_names(scim_target) == ["ada@example.org"]


async def test_manual_mode_writes_no_event(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    user_id = await create_user(api, "ada@example.org")

    await grant_access(api, user_id, application_id)

    async with session_scope() as session:
        assert list(await session.exec(select(OutboxEvent))) == []
    assert scim_target.users() == []


async def test_event_run_twice_creates_one(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    from domain.automation.handlers import Outcome, process_event

    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    async with session_scope() as session:
        [event] = list(await session.exec(select(OutboxEvent)))

    first = await process_event(event.id)
    second = await process_event(event.id)

    assert first.outcome is Outcome.DONE
    assert second.outcome is Outcome.SKIPPED
    assert _user_names(scim_target) == ["ada@example.org"]
    async with session_scope() as session:
        stored = await session.get(OutboxEvent, event.id)
        assert stored is not None
        assert stored.status is EventStatus.DONE
