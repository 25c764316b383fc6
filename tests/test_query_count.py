"""Lists run a fixed number of SQL statements, whatever the page size."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, update
from sqlmodel import col

from domain.db import get_engine, session_scope
from domain.models import ScimGroup
from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

ROWS = 50

ACCOUNTS_TAB = """
query($id: ID!, $first: Int) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(first: $first) {
          totalCount
          edges { node { scimId userName email user { id email displayName } } }
        }
      }
    }
  }
}
"""

ACCESS_TAB = """
query($id: ID!, $first: Int) {
  node(id: $id) {
    ... on Application {
      provisioning {
        access(first: $first) {
          totalCount
          edges {
            node {
              user { id email }
              presentInApp
              account { scimId userName user { email } }
            }
          }
        }
      }
    }
  }
}
"""

GROUPS_TAB = """
query($id: ID!, $first: Int) {
  node(id: $id) {
    ... on Application {
      provisioning {
        groups(first: $first) {
          totalCount
          edges { node { scimId displayName memberCount folder { id name } } }
        }
      }
    }
  }
}
"""

USERS = """
query($first: Int) {
  users(first: $first) {
    totalCount
    edges { node { id email givenName displayName active } }
  }
}
"""

CREATE_FOLDER = """
mutation($name: String!) {
  createFolder(input: {name: $name}) { folder { id } errors { code message } }
}
"""


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Collect the SQL statements that the API's engine sends while active."""
    statements: list[str] = []
    engine = get_engine().sync_engine

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def statements_for(
    api: GraphQLClient, query: str, first: int, **variables: Any
) -> tuple[list[str], dict[str, Any]]:
    """Run `query` for a page of `first` rows; return its statements and data."""
    with count_statements() as statements:
        data = await api(query, first=first, **variables)
    # Proof that the listener saw the request: the page itself is one statement.
    assert any("LIMIT" in statement for statement in statements), statements
    return statements, data


async def linked_users(
    api: GraphQLClient, target: ScimTenant, count: int
) -> tuple[str, list[str]]:
    """Create an application whose `count` users each have a linked account."""
    application_id = await create_application(api)
    await connect(api, application_id, target)
    user_ids = []
    for index in range(count):
        user_id = await create_user(
            api, f"user{index:02}@example.com", givenName=f"User {index}"
        )
        await grant_access(api, user_id, application_id)
        await create_account(api, application_id, user_id)
        user_ids.append(user_id)
    return application_id, user_ids


def edge_count(connection: dict[str, Any]) -> int:
    return len(connection["edges"])


async def test_accounts_tab_query_count(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _ = await linked_users(api, scim_target, ROWS)

    small, small_data = await statements_for(api, ACCOUNTS_TAB, 5, id=application_id)
    large, large_data = await statements_for(api, ACCOUNTS_TAB, ROWS, id=application_id)

    small_page = small_data["node"]["provisioning"]["accounts"]
    large_page = large_data["node"]["provisioning"]["accounts"]
    assert edge_count(small_page) == 5
    assert edge_count(large_page) == ROWS
    assert all(edge["node"]["user"] for edge in large_page["edges"])
    assert len(large) == len(small), large


async def test_access_tab_query_count(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id, _ = await linked_users(api, scim_target, ROWS)

    small, small_data = await statements_for(api, ACCESS_TAB, 5, id=application_id)
    large, large_data = await statements_for(api, ACCESS_TAB, ROWS, id=application_id)

    small_page = small_data["node"]["provisioning"]["access"]
    large_page = large_data["node"]["provisioning"]["access"]
    assert edge_count(small_page) == 5
    assert edge_count(large_page) == ROWS
    assert all(edge["node"]["presentInApp"] for edge in large_page["edges"])
    assert all(edge["node"]["account"]["user"] for edge in large_page["edges"])
    assert len(large) == len(small), large


async def test_groups_tab_query_count(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    folder_ids = []
    for index in range(ROWS):
        data = await api(CREATE_FOLDER, name=f"Team {index:02}")
        folder_ids.append(uuid.UUID(node_uuid(data["createFolder"]["folder"]["id"])))
        member = scim_target.create_user(f"member{index:02}@example.com")
        scim_target.create_group(f"Team {index:02}", members=[member["id"]])
    await connect(api, application_id, scim_target)
    # No mutation links groups to folders yet, so the links are set in the
    # mirror directly: group "Team NN" to folder "Team NN".
    async with session_scope() as session:
        for index, folder_id in enumerate(folder_ids):
            await session.exec(  # type: ignore[call-overload]
                update(ScimGroup)
                .where(
                    col(ScimGroup.application_id)
                    == uuid.UUID(node_uuid(application_id))
                )
                .where(col(ScimGroup.display_name) == f"Team {index:02}")
                .values(folder_id=folder_id)
            )

    small, small_data = await statements_for(api, GROUPS_TAB, 5, id=application_id)
    large, large_data = await statements_for(api, GROUPS_TAB, ROWS, id=application_id)

    small_page = small_data["node"]["provisioning"]["groups"]
    large_page = large_data["node"]["provisioning"]["groups"]
    assert edge_count(small_page) == 5
    assert edge_count(large_page) == ROWS
    assert [edge["node"]["folder"]["name"] for edge in large_page["edges"]] == [
        f"Team {index:02}" for index in range(ROWS)
    ]
    assert large_page["edges"][0]["node"]["memberCount"] == 1
    assert len(large) == len(small), large


async def test_users_query_count(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    await linked_users(api, scim_target, ROWS)

    small, small_data = await statements_for(api, USERS, 5)
    large, large_data = await statements_for(api, USERS, ROWS)

    assert edge_count(small_data["users"]) == 5
    assert edge_count(large_data["users"]) == ROWS
    assert len(large) == len(small), large
