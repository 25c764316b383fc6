"""SmartLink's directory through the GraphQL API: users, folders, access, lists."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry import relay

from tests.support.fixtures import (
    add_application_to_folder,
    add_user_to_folder,
    create_application,
    create_user,
    grant_access,
)
from tests.support.graphql import GraphQLClient

CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) {
    user { id email givenName familyName displayName active }
    errors { code message field }
  }
}
"""

UPDATE_USER = """
mutation($input: UpdateUserInput!) {
  updateUser(input: $input) {
    user { id email givenName familyName displayName }
    errors { code message field }
  }
}
"""

DEACTIVATE_USER = """
mutation($userId: ID!) {
  deactivateUser(input: {userId: $userId}) {
    user { id active } errors { code message field }
  }
}
"""

REACTIVATE_USER = """
mutation($userId: ID!) {
  reactivateUser(input: {userId: $userId}) {
    user { id active } errors { code message field }
  }
}
"""

CREATE_FOLDER = """
mutation($name: String!) {
  createFolder(input: {name: $name}) {
    folder { id name } errors { code message field }
  }
}
"""

ADD_USER_TO_FOLDER = """
mutation($folderId: ID!, $userId: ID!) {
  addUserToFolder(input: {folderId: $folderId, userId: $userId}) {
    folder { id users { totalCount } }
    user { id email }
    errors { code message field }
  }
}
"""

REMOVE_USER_FROM_FOLDER = """
mutation($folderId: ID!, $userId: ID!) {
  removeUserFromFolder(input: {folderId: $folderId, userId: $userId}) {
    folder { id users { totalCount } }
    user { id email }
    errors { code message field }
  }
}
"""

ADD_APPLICATION_TO_FOLDER = """
mutation($folderId: ID!, $applicationId: ID!) {
  addApplicationToFolder(input: {folderId: $folderId, applicationId: $applicationId}) {
    folder { id applications { edges { node { name } } } }
    application { id name }
    errors { code message field }
  }
}
"""

REMOVE_APPLICATION_FROM_FOLDER = """
mutation($folderId: ID!, $applicationId: ID!) {
  removeApplicationFromFolder(
    input: {folderId: $folderId, applicationId: $applicationId}
  ) {
    folder { id applications { edges { node { name } } } }
    application { id name }
    errors { code message field }
  }
}
"""

GRANT_ACCESS = """
mutation($userId: ID!, $applicationId: ID!) {
  grantAccess(input: {userId: $userId, applicationId: $applicationId}) {
    user { id email } application { id name } errors { code message field }
  }
}
"""

REVOKE_ACCESS = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    user { id email } application { id name }
    revoked remainingAccessThrough { id name }
    errors { code message field }
  }
}
"""

USER_FOLDERS_AND_APPLICATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on User {
      applications { totalCount edges { node { name } } }
      folders { totalCount edges { node { name } } }
    }
  }
}
"""

FOLDER_USERS = """
query($id: ID!) {
  node(id: $id) {
    ... on Folder { users { totalCount edges { node { email } } } }
  }
}
"""

USERS = """
query($first: Int, $after: String, $last: Int, $before: String, $search: String) {
  users(first: $first, after: $after, last: $last, before: $before, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { email } }
  }
}
"""

FOLDERS = """
query($first: Int, $after: String, $search: String) {
  folders(first: $first, after: $after, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { name } }
  }
}
"""

APPLICATIONS = """
query($first: Int, $after: String, $search: String) {
  applications(first: $first, after: $after, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { name } }
  }
}
"""

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on User { email }
    ... on Folder { name }
    ... on Application { name }
  }
}
"""


async def count_users(api: GraphQLClient) -> int:
    total: int = (await api(USERS))["users"]["totalCount"]
    return total


async def create_folder(api: GraphQLClient, name: str) -> str:
    data = await api(CREATE_FOLDER, name=name)
    assert data["createFolder"]["errors"] == []
    folder_id: str = data["createFolder"]["folder"]["id"]
    return folder_id


def emails(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["email"] for edge in connection["edges"]]


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


async def test_create_user(api: GraphQLClient) -> None:
    data = await api(
        CREATE_USER,
        input={
            "email": " ada@example.com ",
            "givenName": "Ada",
            "familyName": "Lovelace",
        },
    )

    payload = data["createUser"]
    assert payload["errors"] == []
    user = payload["user"]
    assert user["email"] == "ada@example.com"
    assert user["givenName"] == "Ada"
    assert user["familyName"] == "Lovelace"
    assert user["displayName"] == "Ada Lovelace"
    assert user["active"] is True
    assert (await api(NODE, id=user["id"]))["node"]["email"] == "ada@example.com"


async def test_create_user_invalid_email(api: GraphQLClient) -> None:
    data = await api(CREATE_USER, input={"email": "ada.example.com"})

    payload = data["createUser"]
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID", ["email"])
    ]
    assert "'ada.example.com'" in payload["errors"][0]["message"]
    assert await count_users(api) == 0


async def test_create_user_duplicate_email(api: GraphQLClient) -> None:
    await create_user(api, "ada@example.com", givenName="Ada", familyName="Lovelace")

    data = await api(CREATE_USER, input={"email": "ADA@Example.com"})

    payload = data["createUser"]
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_EXISTS", ["email"])
    ]
    message = payload["errors"][0]["message"]
    assert "'ADA@Example.com'" in message
    assert "Ada Lovelace" in message
    assert await count_users(api) == 1


async def test_update_user_email(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com", givenName="Ada")

    data = await api(
        UPDATE_USER, input={"userId": user_id, "email": "countess@example.com"}
    )

    payload = data["updateUser"]
    assert payload["errors"] == []
    assert payload["user"]["email"] == "countess@example.com"
    assert payload["user"]["givenName"] == "Ada"
    assert emails((await api(USERS))["users"]) == ["countess@example.com"]


async def test_update_user_email_taken(api: GraphQLClient) -> None:
    await create_user(api, "ada@example.com")
    user_id = await create_user(api, "grace@example.com")

    data = await api(UPDATE_USER, input={"userId": user_id, "email": "Ada@example.com"})

    payload = data["updateUser"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_EXISTS", ["email"])
    ]
    assert (await api(NODE, id=user_id))["node"]["email"] == "grace@example.com"


async def test_update_user_clears_name(api: GraphQLClient) -> None:
    user_id = await create_user(
        api, "ada@example.com", givenName="Ada", familyName="Lovelace"
    )

    data = await api(UPDATE_USER, input={"userId": user_id, "familyName": ""})

    user = data["updateUser"]["user"]
    assert data["updateUser"]["errors"] == []
    assert user["givenName"] == "Ada"
    assert user["familyName"] is None
    assert user["displayName"] == "Ada"
    assert user["email"] == "ada@example.com"


async def test_update_user_unknown_id(api: GraphQLClient) -> None:
    await create_user(api, "ada@example.com")
    missing_uuid = str(uuid.uuid4())
    missing = str(relay.GlobalID("User", missing_uuid))

    data = await api(UPDATE_USER, input={"userId": missing, "givenName": "X"})

    payload = data["updateUser"]
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_FOUND", ["userId"])
    ]
    assert (
        payload["errors"][0]["message"]
        == f"User {missing} was not found; check the id against the `users` query."
    )
    assert (await api(USERS))["users"]["edges"][0]["node"]["email"] == (
        "ada@example.com"
    )


async def test_update_user_malformed_id(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    for bad_id in ("not-an-id", application_id):
        data = await api(UPDATE_USER, input={"userId": bad_id, "givenName": "X"})

        payload = data["updateUser"]
        assert payload["user"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID", ["userId"])
        ]
        assert repr(bad_id) in payload["errors"][0]["message"]


async def test_deactivate_and_reactivate(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")

    deactivated = await api(DEACTIVATE_USER, userId=user_id)
    listed_while_inactive = emails((await api(USERS))["users"])
    reactivated = await api(REACTIVATE_USER, userId=user_id)

    assert deactivated["deactivateUser"] == {
        "user": {"id": user_id, "active": False},
        "errors": [],
    }
    assert listed_while_inactive == ["ada@example.com"]
    assert reactivated["reactivateUser"] == {
        "user": {"id": user_id, "active": True},
        "errors": [],
    }


async def test_create_folder_duplicate_name(api: GraphQLClient) -> None:
    folder_id = await create_folder(api, "Sales Team")

    data = await api(CREATE_FOLDER, name="  sales team ")

    payload = data["createFolder"]
    assert payload["folder"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_EXISTS", ["name"])
    ]
    assert "'sales team'" in payload["errors"][0]["message"]
    folders = (await api(FOLDERS))["folders"]
    assert folders["totalCount"] == 1
    assert names(folders) == ["Sales Team"]
    assert (await api(NODE, id=folder_id))["node"]["name"] == "Sales Team"


async def test_create_folder_empty_name(api: GraphQLClient) -> None:
    data = await api(CREATE_FOLDER, name="   ")

    payload = data["createFolder"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID", ["name"])
    ]
    assert (await api(FOLDERS))["folders"]["totalCount"] == 0


async def test_add_and_remove_folder_user(api: GraphQLClient) -> None:
    folder_id = await create_folder(api, "Sales")
    ada = await create_user(api, "ada@example.com")
    grace = await create_user(api, "grace@example.com")

    await api(ADD_USER_TO_FOLDER, folderId=folder_id, userId=ada)
    added = await api(ADD_USER_TO_FOLDER, folderId=folder_id, userId=grace)
    again = await api(ADD_USER_TO_FOLDER, folderId=folder_id, userId=grace)
    members = (await api(FOLDER_USERS, id=folder_id))["node"]["users"]
    removed = await api(REMOVE_USER_FROM_FOLDER, folderId=folder_id, userId=ada)
    remaining = (await api(FOLDER_USERS, id=folder_id))["node"]["users"]

    assert added["addUserToFolder"]["errors"] == []
    assert added["addUserToFolder"]["folder"]["users"]["totalCount"] == 2
    assert added["addUserToFolder"]["user"]["email"] == "grace@example.com"
    assert again["addUserToFolder"]["folder"]["users"]["totalCount"] == 2
    assert members["totalCount"] == 2
    assert emails(members) == ["ada@example.com", "grace@example.com"]
    assert removed["removeUserFromFolder"]["errors"] == []
    assert removed["removeUserFromFolder"]["folder"]["users"]["totalCount"] == 1
    assert emails(remaining) == ["grace@example.com"]
    user_folders = (await api(USER_FOLDERS_AND_APPLICATIONS, id=grace))["node"][
        "folders"
    ]
    assert names(user_folders) == ["Sales"]
    assert (await api(USER_FOLDERS_AND_APPLICATIONS, id=ada))["node"]["folders"][
        "totalCount"
    ] == 0


async def test_add_folder_user_swapped_ids(api: GraphQLClient) -> None:
    folder_id = await create_folder(api, "Sales")
    user_id = await create_user(api, "ada@example.com")

    data = await api(ADD_USER_TO_FOLDER, folderId=user_id, userId=folder_id)

    payload = data["addUserToFolder"]
    assert payload["folder"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID", ["folderId"])
    ]
    assert (await api(FOLDER_USERS, id=folder_id))["node"]["users"]["totalCount"] == 0


async def test_add_and_remove_folder_application(api: GraphQLClient) -> None:
    folder_id = await create_folder(api, "Sales")
    crm = await create_application(api, "Acme CRM")
    await create_application(api, "Billing")

    added = await api(ADD_APPLICATION_TO_FOLDER, folderId=folder_id, applicationId=crm)
    removed = await api(
        REMOVE_APPLICATION_FROM_FOLDER, folderId=folder_id, applicationId=crm
    )

    assert added["addApplicationToFolder"]["errors"] == []
    assert added["addApplicationToFolder"]["application"]["name"] == "Acme CRM"
    assert names(added["addApplicationToFolder"]["folder"]["applications"]) == [
        "Acme CRM"
    ]
    assert removed["removeApplicationFromFolder"]["errors"] == []
    assert removed["removeApplicationFromFolder"]["folder"]["applications"] == {
        "edges": []
    }


async def test_grant_and_revoke_access(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    crm = await create_application(api, "Acme CRM")
    await create_application(api, "Billing")

    granted = await api(GRANT_ACCESS, userId=user_id, applicationId=crm)
    granted_again = await api(GRANT_ACCESS, userId=user_id, applicationId=crm)
    after_grant = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]
    revoked = await api(REVOKE_ACCESS, userId=user_id, applicationId=crm)
    after_revoke = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]

    assert granted["grantAccess"] == {
        "user": {"id": user_id, "email": "ada@example.com"},
        "application": {"id": crm, "name": "Acme CRM"},
        "errors": [],
    }
    assert granted_again["grantAccess"]["errors"] == []
    assert after_grant["totalCount"] == 1
    assert names(after_grant) == ["Acme CRM"]
    assert revoked["revokeAccess"] == {
        "user": {"id": user_id, "email": "ada@example.com"},
        "application": {"id": crm, "name": "Acme CRM"},
        "revoked": True,
        "remainingAccessThrough": [],
        "errors": [],
    }
    assert after_revoke == {"totalCount": 0, "edges": []}


async def test_revoke_access_lists_remaining_folders(api: GraphQLClient) -> None:
    # Given a direct grant, and access through two folders
    user_id = await create_user(api, "ada@example.com")
    crm = await create_application(api, "Acme CRM")
    sales = await create_folder(api, "Sales")
    everyone = await create_folder(api, "Everyone")
    members_only = await create_folder(api, "Members only")
    crm_only = await create_folder(api, "CRM only")
    for folder_id in (sales, everyone, members_only):
        await add_user_to_folder(api, folder_id, user_id)
    for folder_id in (sales, everyone, crm_only):
        await add_application_to_folder(api, folder_id, crm)
    await grant_access(api, user_id, crm)

    # When the direct grant is revoked
    revoked = (await api(REVOKE_ACCESS, userId=user_id, applicationId=crm))[
        "revokeAccess"
    ]

    # Then the payload names the folders, by name, that still give access
    assert revoked["errors"] == []
    assert revoked["revoked"] is True
    assert revoked["remainingAccessThrough"] == [
        {"id": everyone, "name": "Everyone"},
        {"id": sales, "name": "Sales"},
    ]
    applications = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]
    assert names(applications) == ["Acme CRM"]


async def test_revoke_access_without_grant(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    crm = await create_application(api, "Acme CRM")
    sales = await create_folder(api, "Sales")
    await add_user_to_folder(api, sales, user_id)
    await add_application_to_folder(api, sales, crm)

    through_folder = (await api(REVOKE_ACCESS, userId=user_id, applicationId=crm))[
        "revokeAccess"
    ]
    await api(REMOVE_USER_FROM_FOLDER, folderId=sales, userId=user_id)
    no_access = (await api(REVOKE_ACCESS, userId=user_id, applicationId=crm))[
        "revokeAccess"
    ]

    assert through_folder["errors"] == []
    assert through_folder["revoked"] is False
    assert through_folder["remainingAccessThrough"] == [{"id": sales, "name": "Sales"}]
    assert no_access["errors"] == []
    assert no_access["revoked"] is False
    assert no_access["remainingAccessThrough"] == []


async def test_revoke_access_unknown_application(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    missing = str(relay.GlobalID("Application", str(uuid.uuid4())))

    revoked = (await api(REVOKE_ACCESS, userId=user_id, applicationId=missing))[
        "revokeAccess"
    ]

    assert revoked["user"] is None
    assert revoked["revoked"] is False
    assert revoked["remainingAccessThrough"] == []
    assert [(e["code"], e["field"]) for e in revoked["errors"]] == [
        ("NOT_FOUND", ["applicationId"])
    ]


async def test_grant_access_bad_application_id(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    missing = str(relay.GlobalID("Application", str(uuid.uuid4())))

    wrong_type = (await api(GRANT_ACCESS, userId=user_id, applicationId=user_id))[
        "grantAccess"
    ]
    unknown = (await api(GRANT_ACCESS, userId=user_id, applicationId=missing))[
        "grantAccess"
    ]

    assert wrong_type["user"] is None
    assert [(e["code"], e["field"]) for e in wrong_type["errors"]] == [
        ("INVALID", ["applicationId"])
    ]
    assert unknown["user"] is None
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [
        ("NOT_FOUND", ["applicationId"])
    ]
    applications = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]
    assert applications["totalCount"] == 0


async def test_user_applications_direct_and_folder(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    crm = await create_application(api, "Acme CRM")
    billing = await create_application(api, "Billing")
    await create_application(api, "Chat")
    folder_id = await create_folder(api, "Sales")
    await api(ADD_USER_TO_FOLDER, folderId=folder_id, userId=user_id)
    await api(ADD_APPLICATION_TO_FOLDER, folderId=folder_id, applicationId=billing)
    await api(ADD_APPLICATION_TO_FOLDER, folderId=folder_id, applicationId=crm)
    await grant_access(api, user_id, crm)

    both = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]
    await api(REVOKE_ACCESS, userId=user_id, applicationId=crm)
    after_revoke = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]
    await api(REMOVE_USER_FROM_FOLDER, folderId=folder_id, userId=user_id)
    after_leaving = (await api(USER_FOLDERS_AND_APPLICATIONS, id=user_id))["node"][
        "applications"
    ]

    assert both["totalCount"] == 2
    assert names(both) == ["Acme CRM", "Billing"]
    assert names(after_revoke) == ["Acme CRM", "Billing"]
    assert after_leaving == {"totalCount": 0, "edges": []}


async def test_users_search(api: GraphQLClient) -> None:
    await create_user(api, "ada@example.com", givenName="Ada", familyName="Lovelace")
    await create_user(api, "grace@example.com", familyName="Hopper")
    await create_user(api, "alan@example.org", givenName="Alan")

    by_family_name = (await api(USERS, search="HOPP"))["users"]
    by_domain = (await api(USERS, search="example.com"))["users"]
    by_given_name = (await api(USERS, search="al"))["users"]
    wildcard = (await api(USERS, search="%"))["users"]

    assert emails(by_family_name) == ["grace@example.com"]
    assert by_family_name["totalCount"] == 1
    assert emails(by_domain) == ["ada@example.com", "grace@example.com"]
    assert emails(by_given_name) == ["alan@example.org"]
    assert wildcard == {
        "totalCount": 0,
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "edges": [],
    }


async def test_users_paging_forward(api: GraphQLClient) -> None:
    for index in range(7):
        await create_user(api, f"user{index}@example.com")

    first = (await api(USERS, first=3))["users"]
    second = (await api(USERS, first=3, after=first["pageInfo"]["endCursor"]))["users"]
    third = (await api(USERS, first=3, after=second["pageInfo"]["endCursor"]))["users"]

    assert emails(first) == [f"user{i}@example.com" for i in (0, 1, 2)]
    assert first["totalCount"] == 7
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert emails(second) == [f"user{i}@example.com" for i in (3, 4, 5)]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert emails(third) == ["user6@example.com"]
    assert third["totalCount"] == 7
    assert third["pageInfo"]["hasNextPage"] is False


async def test_users_paging_backward(api: GraphQLClient) -> None:
    for index in range(7):
        await create_user(api, f"user{index}@example.com")
    cursors = [edge["cursor"] for edge in (await api(USERS))["users"]["edges"]]

    last = (await api(USERS, last=3))["users"]
    before = (await api(USERS, last=2, before=cursors[5]))["users"]
    before_start = (await api(USERS, last=5, before=cursors[2]))["users"]
    between = (await api(USERS, first=10, after=cursors[1], before=cursors[4]))["users"]

    assert emails(last) == [f"user{i}@example.com" for i in (4, 5, 6)]
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["pageInfo"]["hasPreviousPage"] is True
    assert emails(before) == ["user3@example.com", "user4@example.com"]
    assert before["pageInfo"]["hasPreviousPage"] is True
    assert before["pageInfo"]["hasNextPage"] is True
    assert emails(before_start) == ["user0@example.com", "user1@example.com"]
    assert before_start["pageInfo"]["hasPreviousPage"] is False
    assert emails(between) == ["user2@example.com", "user3@example.com"]
    assert before_start["totalCount"] == 7


async def test_users_paging_last_after(api: GraphQLClient) -> None:
    for index in range(7):
        await create_user(api, f"user{index}@example.com")
    cursors = [edge["cursor"] for edge in (await api(USERS))["users"]["edges"]]

    last_after = (await api(USERS, last=2, after=cursors[1]))["users"]
    all_after = (await api(USERS, last=9, after=cursors[3]))["users"]
    bounded = (await api(USERS, last=9, after=cursors[1], before=cursors[4]))["users"]

    # Relay applies `after` and `before` first, then keeps the last edges.
    assert emails(last_after) == ["user5@example.com", "user6@example.com"]
    assert last_after["pageInfo"]["hasPreviousPage"] is True
    assert last_after["pageInfo"]["hasNextPage"] is False
    assert emails(all_after) == [f"user{i}@example.com" for i in (4, 5, 6)]
    assert emails(bounded) == ["user2@example.com", "user3@example.com"]


async def test_page_size_limit(api: GraphQLClient) -> None:
    await create_user(api, "ada@example.com")

    for argument in ("first", "last"):
        body = await api.execute(USERS, **{argument: 101})

        assert body["data"] is None
        assert len(body["errors"]) == 1
        message = body["errors"][0]["message"]
        assert f"`{argument}` is 101" in message
        assert "100" in message


async def test_invalid_cursor(api: GraphQLClient) -> None:
    body = await api.execute(USERS, first=2, after="bm90LWEtY3Vyc29y")

    assert body["data"] is None
    assert "'bm90LWEtY3Vyc29y'" in body["errors"][0]["message"]
    assert "`after`" in body["errors"][0]["message"]


async def test_folders_and_applications_lists(api: GraphQLClient) -> None:
    for name in ("Sales", "Support", "Engineering"):
        await create_folder(api, name)
    for name in ("Acme CRM", "Billing", "Chat"):
        await create_application(api, name)

    folders = (await api(FOLDERS, first=2))["folders"]
    next_folders = (await api(FOLDERS, after=folders["pageInfo"]["endCursor"]))[
        "folders"
    ]
    searched_folders = (await api(FOLDERS, search="s"))["folders"]
    applications = (await api(APPLICATIONS, first=1, search="A"))["applications"]

    assert names(folders) == ["Engineering", "Sales"]
    assert folders["totalCount"] == 3
    assert folders["pageInfo"]["hasNextPage"] is True
    assert names(next_folders) == ["Support"]
    assert next_folders["pageInfo"]["hasNextPage"] is False
    assert names(searched_folders) == ["Sales", "Support"]
    assert names(applications) == ["Acme CRM"]
    assert applications["totalCount"] == 2
    assert applications["pageInfo"]["hasNextPage"] is True


async def test_node_by_id(api: GraphQLClient) -> None:
    user_id = await create_user(api, "ada@example.com")
    folder_id = await create_folder(api, "Sales")
    application_id = await create_application(api, "Acme CRM")

    user = (await api(NODE, id=user_id))["node"]
    folder = (await api(NODE, id=folder_id))["node"]
    application = (await api(NODE, id=application_id))["node"]

    assert user == {"__typename": "User", "id": user_id, "email": "ada@example.com"}
    assert folder == {"__typename": "Folder", "id": folder_id, "name": "Sales"}
    assert application == {
        "__typename": "Application",
        "id": application_id,
        "name": "Acme CRM",
    }


async def test_node_missing_id(api: GraphQLClient) -> None:
    missing = str(relay.GlobalID("User", str(uuid.uuid4())))

    body = await api.execute(NODE, id=missing)

    assert body == {"data": {"node": None}}
