"""The Access tab: users with access to an application, and their accounts."""

from __future__ import annotations

from typing import Any

from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
    refresh,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

ACCESS = """
query(
  $id: ID!, $present: Boolean, $search: String, $first: Int, $after: String
) {
  node(id: $id) {
    ... on Application {
      provisioning {
        access(present: $present, search: $search, first: $first, after: $after) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges {
            node {
              user { id email }
              presentInApp
              account { scimId userName email externalId user { email } }
            }
          }
        }
      }
    }
  }
}
"""

CREATE_FOLDER = """
mutation($name: String!) {
  createFolder(input: {name: $name}) { folder { id } errors { code message } }
}
"""

ADD_USER_TO_FOLDER = """
mutation($folderId: ID!, $userId: ID!) {
  addUserToFolder(input: {folderId: $folderId, userId: $userId}) {
    errors { code message }
  }
}
"""

ADD_APPLICATION_TO_FOLDER = """
mutation($folderId: ID!, $applicationId: ID!) {
  addApplicationToFolder(input: {folderId: $folderId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

UPDATE_EMAIL = """
mutation($userId: ID!, $email: String!) {
  updateUser(input: {userId: $userId, email: $email}) { errors { code message } }
}
"""


async def access_tab(
    api: GraphQLClient, application_id: str, **arguments: Any
) -> dict[str, Any]:
    data = await api(ACCESS, id=application_id, **arguments)
    access: dict[str, Any] = data["node"]["provisioning"]["access"]
    return access


def rows(access: dict[str, Any]) -> list[tuple[str, bool, str | None]]:
    """Each entry as (user email, presentInApp, account userName)."""
    return [
        (
            edge["node"]["user"]["email"],
            edge["node"]["presentInApp"],
            edge["node"]["account"]["userName"] if edge["node"]["account"] else None,
        )
        for edge in access["edges"]
    ]


async def create_folder(api: GraphQLClient, name: str) -> str:
    data = await api(CREATE_FOLDER, name=name)
    assert data["createFolder"]["errors"] == []
    folder_id: str = data["createFolder"]["folder"]["id"]
    return folder_id


async def test_access_lists_users_with_access(api: GraphQLClient) -> None:
    crm = await create_application(api, "Acme CRM")
    billing = await create_application(api, "Billing")
    direct = await create_user(api, "direct@example.com")
    member = await create_user(api, "member@example.com")
    outsider = await create_user(api, "outsider@example.com")
    other_app = await create_user(api, "billing@example.com")
    sales = await create_folder(api, "Sales")
    support = await create_folder(api, "Support")
    await grant_access(api, direct, crm)
    await grant_access(api, other_app, billing)
    await api(ADD_USER_TO_FOLDER, folderId=sales, userId=member)
    await api(ADD_APPLICATION_TO_FOLDER, folderId=sales, applicationId=crm)
    await api(ADD_USER_TO_FOLDER, folderId=support, userId=outsider)
    await api(ADD_APPLICATION_TO_FOLDER, folderId=support, applicationId=billing)

    access = await access_tab(api, crm)

    assert rows(access) == [
        ("direct@example.com", False, None),
        ("member@example.com", False, None),
    ]
    assert access["totalCount"] == 2
    assert (await access_tab(api, billing))["totalCount"] == 2


async def test_access_direct_and_folder_counted_once(api: GraphQLClient) -> None:
    crm = await create_application(api)
    user_id = await create_user(api, "ada@example.com")
    folder_id = await create_folder(api, "Sales")
    await grant_access(api, user_id, crm)
    await api(ADD_USER_TO_FOLDER, folderId=folder_id, userId=user_id)
    await api(ADD_APPLICATION_TO_FOLDER, folderId=folder_id, applicationId=crm)

    access = await access_tab(api, crm)

    assert rows(access) == [("ada@example.com", False, None)]
    assert access["totalCount"] == 1


async def test_access_before_and_after_accounts(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    grace = await create_user(api, "grace@example.com")
    await grant_access(api, ada, crm)
    await grant_access(api, grace, crm)
    await connect(api, crm, scim_target)
    before = await access_tab(api, crm)

    account = await create_account(api, crm, ada)
    after = await access_tab(api, crm)

    assert rows(before) == [
        ("ada@example.com", False, None),
        ("grace@example.com", False, None),
    ]
    assert rows(after) == [
        ("ada@example.com", True, "ada@example.com"),
        ("grace@example.com", False, None),
    ]
    ada_entry = after["edges"][0]["node"]
    assert ada_entry["account"]["scimId"] == account["scimId"]
    assert ada_entry["account"]["externalId"] == node_uuid(ada)
    assert ada_entry["account"]["user"] == {"email": "ada@example.com"}


async def test_access_matches_external_id(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    resource = scim_target.create_user("a.lovelace", externalId=node_uuid(ada))
    scim_target.create_user("someone.else", externalId="ada@example.com")

    await connect(api, crm, scim_target)
    access = await access_tab(api, crm)

    assert rows(access) == [("ada@example.com", True, "a.lovelace")]
    account = access["edges"][0]["node"]["account"]
    assert account["scimId"] == resource["id"]
    # Matched, not linked: the Accounts tab still shows it without a user.
    assert account["user"] is None


async def test_access_matches_user_name_case(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    await connect(api, crm, scim_target)
    scim_target.create_user("ADA@Example.COM")

    before_refresh = await access_tab(api, crm)
    await refresh(api, crm)
    after_refresh = await access_tab(api, crm)

    assert rows(before_refresh) == [("ada@example.com", False, None)]
    assert rows(after_refresh) == [("ada@example.com", True, "ADA@Example.COM")]


async def test_access_matches_email_case(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    scim_target.create_user(
        "alovelace",
        emails=[{"value": "Ada@EXAMPLE.com", "type": "work", "primary": True}],
    )

    await connect(api, crm, scim_target)
    access = await access_tab(api, crm)

    assert rows(access) == [("ada@example.com", True, "alovelace")]
    assert access["edges"][0]["node"]["account"]["email"] == "Ada@EXAMPLE.com"


async def test_access_prefers_external_id(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    scim_target.create_user("ada@example.com")
    scim_target.create_user("a.lovelace", externalId=node_uuid(ada))

    await connect(api, crm, scim_target)
    access = await access_tab(api, crm)

    assert rows(access) == [("ada@example.com", True, "a.lovelace")]


async def test_access_prefers_stored_link(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    ada = await create_user(api, "ada@example.com")
    await grant_access(api, ada, crm)
    by_user_name = scim_target.create_user("ada@example.com")
    await connect(api, crm, scim_target)
    linked = await create_account(api, crm, ada)
    scim_target.create_user("a.lovelace", externalId=node_uuid(ada))

    await refresh(api, crm)
    access = await access_tab(api, crm)

    # createAccount linked the account that matched rather than creating one.
    assert linked["scimId"] == by_user_name["id"]
    assert len(scim_target.users()) == 2
    assert rows(access) == [("ada@example.com", True, "ada@example.com")]
    assert access["edges"][0]["node"]["account"]["user"] == {"email": "ada@example.com"}


async def test_access_ignores_account_linked_elsewhere(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    first = await create_user(api, "shared@example.com")
    await grant_access(api, first, crm)
    await connect(api, crm, scim_target)
    await create_account(api, crm, first)
    # The first user moves to another address; its account keeps the old userName.
    await api(UPDATE_EMAIL, userId=first, email="first@example.com")
    second = await create_user(api, "shared@example.com")
    await grant_access(api, second, crm)

    access = await access_tab(api, crm)
    present = await access_tab(api, crm, present=True)
    absent = await access_tab(api, crm, present=False)

    assert rows(access) == [
        ("first@example.com", True, "shared@example.com"),
        ("shared@example.com", False, None),
    ]
    assert rows(present) == [("first@example.com", True, "shared@example.com")]
    assert rows(absent) == [("shared@example.com", False, None)]


async def test_access_present_filter_and_search(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    crm = await create_application(api)
    for name in ("ada", "alan", "grace", "linus"):
        user_id = await create_user(api, f"{name}@example.com")
        await grant_access(api, user_id, crm)
    scim_target.create_user("ada@example.com")
    scim_target.create_user("linus@example.com")
    scim_target.create_user("nobody@example.com")
    await connect(api, crm, scim_target)

    present = await access_tab(api, crm, present=True)
    absent = await access_tab(api, crm, present=False)
    searched = await access_tab(api, crm, search="N")
    searched_present = await access_tab(api, crm, search="n", present=True)
    paged = await access_tab(api, crm, present=False, first=1)
    next_page = await access_tab(
        api, crm, present=False, first=1, after=paged["pageInfo"]["endCursor"]
    )

    assert rows(present) == [
        ("ada@example.com", True, "ada@example.com"),
        ("linus@example.com", True, "linus@example.com"),
    ]
    assert present["totalCount"] == 2
    assert rows(absent) == [
        ("alan@example.com", False, None),
        ("grace@example.com", False, None),
    ]
    assert absent["totalCount"] == 2
    assert rows(searched) == [
        ("alan@example.com", False, None),
        ("linus@example.com", True, "linus@example.com"),
    ]
    assert searched["totalCount"] == 2
    assert rows(searched_present) == [("linus@example.com", True, "linus@example.com")]
    assert rows(paged) == [("alan@example.com", False, None)]
    assert paged["totalCount"] == 2
    assert paged["pageInfo"]["hasNextPage"] is True
    assert rows(next_page) == [("grace@example.com", False, None)]
    assert next_page["pageInfo"]["hasNextPage"] is False
