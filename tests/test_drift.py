"""Drift: a refresh marks linked accounts that differ from SmartLink's values."""

from __future__ import annotations

from typing import Any

from domain.automation.drift import account_drift
from domain.automation.state import AccessState
from domain.mapping.defaults import default_mapping
from domain.mapping.entries import Mapping, MappingEntry, MappingKind, SourceKind
from domain.models import ProvisioningSettings, ScimAccount, User
from domain.scim.paths import parse_path
from domain.scim.target_schema import TargetSchema
from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    refresh,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.mapping import update_mapping, with_entries
from tests.support.scim2_server import USER_SCHEMA, ScimTenant

ACCOUNTS = """
query($id: ID!, $drifted: Boolean) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(drifted: $drifted) {
          edges { node { userName drift { path expected actual } driftedAt } }
        }
      }
    }
  }
}
"""

TICKETS = """
query { tickets { edges { node { event status action message } } } }
"""

DISMISS = """
mutation($id: ID!) { dismissTicket(input: {ticketId: $id}) { errors { message } } }
"""

TICKET_IDS = "query { tickets(status: OPEN) { edges { node { id } } } }"


async def _accounts(
    api: GraphQLClient, application_id: str, drifted: bool | None = None
) -> list[dict[str, Any]]:
    data = await api(ACCOUNTS, id=application_id, drifted=drifted)
    edges = data["node"]["provisioning"]["accounts"]["edges"]
    return [edge["node"] for edge in edges]


async def _linked_account(
    api: GraphQLClient, target: ScimTenant
) -> tuple[str, str, dict[str, Any]]:
    """An application with Ada's account created by SmartLink in `target`."""
    application_id = await create_application(api)
    await connect(api, application_id, target)
    user_id = await create_user(
        api, "ada@example.org", givenName="Ada", familyName="Lovelace"
    )
    await grant_access(api, user_id, application_id)
    account = await create_account(api, application_id, user_id)
    return application_id, user_id, account


async def _tickets(api: GraphQLClient) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (await api(TICKETS))["tickets"]["edges"]]


async def test_refresh_marks_drifted_account(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _, account = await _linked_account(api, scim_target)
    scim_target.replace_attribute(
        "Users", account["scimId"], "displayName", "Countess of Lovelace"
    )

    await refresh(api, application_id)

    [drifted] = await _accounts(api, application_id, drifted=True)
    assert drifted["userName"] == "ada@example.org"
    assert drifted["drift"] == [
        {
            "path": "displayName",
            "expected": "Ada Lovelace",
            "actual": "Countess of Lovelace",
        }
    ]
    assert drifted["driftedAt"] is not None
    assert await _accounts(api, application_id, drifted=False) == []
    # MANUAL mode: the Accounts tab shows it, nothing else happens.
    assert await _tickets(api) == []
    assert await outbox_settled()


async def test_account_in_line_is_not_drifted(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _, _ = await _linked_account(api, scim_target)
    scim_target.create_user("someone@example.org", displayName="Not Linked")

    await refresh(api, application_id)

    assert await _accounts(api, application_id, drifted=True) == []
    accounts = await _accounts(api, application_id, drifted=False)
    assert {a["userName"] for a in accounts} == {
        "ada@example.org",
        "someone@example.org",
    }
    assert all(a["drift"] == [] for a in accounts)


async def test_notification_ticket_names_drifted_attributes(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _, account = await _linked_account(api, scim_target)
    await update_settings(api, application_id, userUpdated="NOTIFICATION")
    scim_target.replace_attribute("Users", account["scimId"], "name.familyName", "B")

    await refresh(api, application_id)

    [ticket] = await _tickets(api)
    assert ticket["event"] == "USER_UPDATED"
    assert ticket["action"] == "UPDATE_ACCOUNT"
    assert "name.familyName" in ticket["message"]

    # The same drift found again raises nothing new, even once dismissed.
    [ticket_id] = [
        edge["node"]["id"] for edge in (await api(TICKET_IDS))["tickets"]["edges"]
    ]
    await api(DISMISS, id=ticket_id)
    await refresh(api, application_id)
    assert [t["status"] for t in await _tickets(api)] == ["DISMISSED"]


async def test_automatic_mode_repairs_drift(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id, _, account = await _linked_account(api, scim_target)
    await update_settings(api, application_id, userUpdated="AUTOMATIC")
    scim_target.replace_attribute("Users", account["scimId"], "displayName", "Ada L.")

    await refresh(api, application_id)

    async def repaired() -> bool:
        resource = scim_target.user(account["scimId"])
        return resource is not None and resource["displayName"] == "Ada Lovelace"

    await wait_until(repaired, what="the job writing displayName back")
    await wait_until(outbox_settled, what="the outbox settling")
    assert await _accounts(api, application_id, drifted=True) == []
    await refresh(api, application_id)
    assert await _accounts(api, application_id, drifted=True) == []


async def test_target_value_of_empty_field_drifts(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    title = {"path": "title", "source": "FIELD", "value": "title"}
    payload = await update_mapping(api, application_id, "USER", with_entries(title))
    assert payload["errors"] == []
    user_id = await create_user(api, "ada@example.org", givenName="Ada")
    await grant_access(api, user_id, application_id)
    account = await create_account(api, application_id, user_id)
    scim_target.replace_attribute("Users", account["scimId"], "title", "Countess")

    await refresh(api, application_id)

    [drifted] = await _accounts(api, application_id, drifted=True)
    assert drifted["drift"] == [
        {"path": "title", "expected": None, "actual": "Countess"}
    ]
    # The mode change raises the known drift, and the job removes the title.
    await update_settings(api, application_id, userUpdated="AUTOMATIC")

    async def removed() -> bool:
        resource = scim_target.user(account["scimId"])
        return resource is not None and "title" not in resource

    await wait_until(removed, what="the job removing title")
    await wait_until(outbox_settled, what="the outbox settling")
    await refresh(api, application_id)
    assert await _accounts(api, application_id, drifted=True) == []


def test_required_attribute_never_drifts_empty() -> None:
    user = User(email="ada@example.org", email_key="ada@example.org")
    account = ScimAccount(
        scim_id="1",
        user_name="ada@example.org",
        user_name_key="ada@example.org",
        raw={"id": "1", "userName": "ada@example.org", "title": "Countess"},
    )
    account.user_id = user.id
    title = MappingEntry(parse_path("title", USER_SCHEMA), SourceKind.FIELD, "title")
    state = AccessState(
        user=user,
        has_access=True,
        account=account,
        settings=ProvisioningSettings(),
        mapping=Mapping(MappingKind.USER, (title,)),
    )

    def schema(required: bool) -> TargetSchema:
        definition = {"name": "title", "type": "string", "required": required}
        return TargetSchema.from_documents(
            [{"id": USER_SCHEMA, "attributes": [definition]}]
        )

    assert account_drift(state, schema(required=True)) == []
    [drift] = account_drift(state, schema(required=False))
    assert drift.as_json() == {"path": "title", "expected": None, "actual": "Countess"}


def test_undeclared_attributes_never_drift() -> None:
    user = User(email="ada@example.org", email_key="ada@example.org")
    user.given_name, user.family_name = "Ada", "Lovelace"
    account = ScimAccount(
        scim_id="1",
        user_name="ada@example.org",
        user_name_key="ada@example.org",
        raw={
            "id": "1",
            "userName": "ada@example.org",
            "displayName": "Someone Else",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.org", "type": "work", "primary": True}],
            "active": True,
            "externalId": str(user.id),
        },
    )
    account.user_id = user.id
    state = AccessState(
        user=user,
        has_access=True,
        account=account,
        settings=ProvisioningSettings(),
        mapping=default_mapping(MappingKind.USER),
    )
    without_display_name = TargetSchema.from_documents(
        [
            {
                "id": "urn:ietf:params:scim:schemas:core:2.0:User",
                "attributes": [
                    {"name": name, "type": "string"}
                    for name in ("userName", "emails", "active")
                ]
                + [
                    {
                        "name": "name",
                        "type": "complex",
                        "subAttributes": [
                            {"name": "givenName", "type": "string"},
                            {"name": "familyName", "type": "string"},
                        ],
                    }
                ],
            }
        ]
    )

    assert account_drift(state, without_display_name) == []
    # A target that published no schema is taken to accept every attribute.
    no_schema = TargetSchema.from_documents([])
    assert [d.path for d in account_drift(state, no_schema)] == ["displayName"]


TICKET_RESOLUTIONS = """
query { tickets { edges { node { event status resolution } } } }
"""


async def test_drift_ticket_closes_once_in_line(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _, account = await _linked_account(api, scim_target)
    await update_settings(api, application_id, userUpdated="NOTIFICATION")
    scim_target.replace_attribute("Users", account["scimId"], "displayName", "Ada L.")
    await refresh(api, application_id)

    scim_target.replace_attribute(
        "Users", account["scimId"], "displayName", "Ada Lovelace"
    )
    await refresh(api, application_id)

    edges = (await api(TICKET_RESOLUTIONS))["tickets"]["edges"]
    [ticket] = [edge["node"] for edge in edges]
    assert ticket["status"] == "RESOLVED"
    assert ticket["resolution"] == "The account matches SmartLink's values again."


async def test_mode_change_raises_known_drift(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _, account = await _linked_account(api, scim_target)
    scim_target.replace_attribute("Users", account["scimId"], "displayName", "Ada L.")
    await refresh(api, application_id)
    assert await _tickets(api) == []

    await update_settings(api, application_id, userUpdated="NOTIFICATION")

    [ticket] = await _tickets(api)
    assert ticket["status"] == "OPEN"
    assert "whose attribute displayName differs" in ticket["message"]
