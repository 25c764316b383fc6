"""Each tab runs the same number of SQL queries whatever its page size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from domain.db import get_engine
from tests.support.fixtures import (
    account_ids,
    add_application_to_folder,
    add_user_to_folder,
    connect,
    create_application,
    create_folder,
    create_user,
    group_ids,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

TABS = {
    "accounts": """
        accounts(first: $first) {
          totalCount
          edges { node { userName user { email } suggestedUser { email } } }
        }
    """,
    "access": """
        access(first: $first) {
          edges {
            node { presentInApp user { email } account { userName user { id } } }
          }
        }
    """,
    "groups": """
        groups(first: $first) {
          edges { node { displayName memberCount folder { name } } }
        }
    """,
    "folders": """
        folders(first: $first) {
          edges {
            node { presentInApp folder { name } group { displayName folder { id } } }
          }
        }
    """,
    "operations": """
        operations(first: $first) {
          edges { node { action user { email } folder { name } } }
        }
    """,
}

ASSOCIATE_MEMBERSHIP = """
mutation($accountId: ID!, $userId: ID!) {
  associateMembership(input: {accountId: $accountId, userId: $userId}) {
    errors { code }
  }
}
"""

ASSOCIATE_FOLDER = """
mutation($groupId: ID!, $folderId: ID!) {
  associateFolder(input: {groupId: $groupId, folderId: $folderId}) {
    errors { code }
  }
}
"""

ROWS = 12


def _document(tab: str) -> str:
    return (
        "query($id: ID!, $first: Int) { node(id: $id) { ... on Application { "
        f"provisioning {{ {TABS[tab]} }} }} }} }}"
    )


@contextmanager
def _recorded_statements() -> Iterator[list[str]]:
    """Record the SQL statements that the API sends in this event loop."""
    engine = get_engine().sync_engine
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
async def full_tabs(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> str:
    """An application with ROWS rows in each tab, linked and unlinked alike."""
    application_id = await create_application(api)
    users = []
    for index in range(ROWS):
        email = f"user{index:02}@example.com"
        user_id = await create_user(api, email)
        users.append(user_id)
        folder_id = await create_folder(api, f"Folder {index:02}")
        await add_application_to_folder(api, folder_id, application_id)
        await add_user_to_folder(api, folder_id, user_id)
        account = scim_target.create_user(email)
        scim_target.create_group(f"Group {index:02}", [account["id"]])
    await connect(api, application_id, scim_target)

    accounts = await account_ids(api, application_id)
    groups = await group_ids(api, application_id)
    folders = await api("query { folders(first: 100) { edges { node { id name } } } }")
    folder_ids = {
        e["node"]["name"]: e["node"]["id"] for e in folders["folders"]["edges"]
    }
    for index in range(0, ROWS, 2):
        email = f"user{index:02}@example.com"
        await api(ASSOCIATE_MEMBERSHIP, accountId=accounts[email], userId=users[index])
        await api(
            ASSOCIATE_FOLDER,
            groupId=groups[f"Group {index:02}"],
            folderId=folder_ids[f"Folder {index + 1:02}"],
        )
    return application_id


@pytest.mark.parametrize("tab", sorted(TABS))
async def test_tab_queries_fixed(api: GraphQLClient, full_tabs: str, tab: str) -> None:
    # Every page of two rows or more contains a linked row and an unlinked one,
    # so each batch query runs on every page; a page without links skips some.
    counts = {}
    for size in (2, 6, ROWS):
        with _recorded_statements() as statements:
            data = await api(_document(tab), id=full_tabs, first=size)
        edges = data["node"]["provisioning"][tab]["edges"]
        assert len(edges) == size
        counts[size] = len(statements)

    assert counts[2] == counts[6] == counts[ROWS], counts
