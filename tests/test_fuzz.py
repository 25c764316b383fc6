"""Generated queries and mutations over the whole schema, through the ASGI app.

hypothesis-graphql writes valid documents, with arguments drawn from ids of
real objects and from arbitrary text, and documents with one schema violation
each. Every response must be a GraphQL response without an internal error,
and the database must stay consistent afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema
from sqlalchemy import text
from sqlmodel import SQLModel, col, select

from api.graphql.core.connection import encode_cursor
from api.graphql.schema import schema
from domain.db import dispose_engines, session_scope
from domain.models import ProvisioningOperation, ScimConnection, TokenRole
from domain.secrets import unseal
from domain.tokens import create_token
from tests.support.fixtures import (
    FakeDNS,
    connect,
    create_application,
    create_user,
    grant_access,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

#: Documents sent in all, a little under half of them mutations.
EXAMPLES = 2000

#: Words that leak internals if they reach a client.
INTERNAL_WORDS = ("Traceback", 'File "', "sqlalchemy", "asyncpg", "sqlite3")

CREATE_FOLDER = """
mutation($name: String!) { createFolder(input: {name: $name}) { folder { id } } }
"""

ADD_TO_FOLDER = """
mutation($folderId: ID!, $userId: ID!, $applicationId: ID!) {
  addUserToFolder(input: {folderId: $folderId, userId: $userId}) { errors { code } }
  addApplicationToFolder(input: {folderId: $folderId, applicationId: $applicationId}) {
    errors { code }
  }
}
"""

ACCOUNT_IDS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts { edges { node { id } } }
        groups { edges { node { id } } }
        operations { edges { node { id } } }
        lastRefresh { id }
      }
    }
  }
}
"""


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop of this test's own, which Hypothesis examples run on."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(dispose_engines())
    loop.close()


def test_fuzz_schema(
    loop: asyncio.AbstractEventLoop,
    api_token: str,
    scim_target: ScimTenant,
    fake_dns: FakeDNS,
    connections: list[str],
    job_worker: None,
) -> None:
    admin, viewer = loop.run_until_complete(_clients(api_token))
    ids = loop.run_until_complete(_seed(admin, scim_target))
    sent: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        document=_documents(ids, scim_target),
        as_viewer=st.integers(0, 9).map(lambda n: n == 0),
    )
    def send(document: str, as_viewer: bool) -> None:
        client = viewer if as_viewer else admin
        response = loop.run_until_complete(
            client.http.post("/graphql", json={"query": document})
        )
        sent.append(document)
        _check_answer(document, response)

    try:
        send()
        loop.run_until_complete(_check_database())
    finally:
        loop.run_until_complete(admin.http.aclose())
        loop.run_until_complete(viewer.http.aclose())

    assert len(sent) >= EXAMPLES
    assert (
        sum(1 for document in sent if document.startswith("mutation")) > EXAMPLES // 4
    )


async def _clients(admin_token: str) -> tuple[GraphQLClient, GraphQLClient]:
    from api.app import create_app

    async with session_scope() as session:
        _token, viewer_token = await create_token(session, "fuzz", TokenRole.VIEWER)
    transport = httpx.ASGITransport(app=create_app(run_worker=False))
    return tuple(  # type: ignore[return-value]
        GraphQLClient(
            httpx.AsyncClient(
                transport=transport,
                base_url="http://smartlink.test",
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        for token in (admin_token, viewer_token)
    )


async def _seed(api: GraphQLClient, target: ScimTenant) -> list[str]:
    """Create a directory and a connected application; return every id."""
    target.create_user("grace@example.com", emails=[{"value": "grace@example.com"}])
    target.create_group("Engineering")
    connected_id = await create_application(api, "Connected")
    await connect(api, connected_id, target)
    other_id = await create_application(api, "Other")
    user_ids = [
        await create_user(api, email)
        for email in ("ada@example.com", "grace@example.com", "alan@example.com")
    ]
    await grant_access(api, user_ids[0], connected_id)
    folder = await api(CREATE_FOLDER, name="Engineering")
    folder_id = folder["createFolder"]["folder"]["id"]
    await api(
        ADD_TO_FOLDER,
        folderId=folder_id,
        userId=user_ids[1],
        applicationId=connected_id,
    )

    provisioning = (await api(ACCOUNT_IDS, id=connected_id))["node"]["provisioning"]
    ids = [connected_id, other_id, folder_id, *user_ids]
    for tab in ("accounts", "groups", "operations"):
        ids.extend(edge["node"]["id"] for edge in provisioning[tab]["edges"])
    ids.append(provisioning["lastRefresh"]["id"])
    return ids


def _documents(ids: list[str], target: ScimTenant) -> st.SearchStrategy[str]:
    """Documents whose arguments are often meaningful: ids of real objects,
    small page sizes, valid cursors, emails and base URLs, besides any text."""
    sdl = graphql.build_schema(schema.as_str())
    strings = st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "ada@example.com",
                "new@example.com",
                "Engineering",
                target.base_url,
                target.token,
                target.base_url.replace("127.0.0.1", "127.1"),
                "http://169.254.169.254/latest",
                "https://[::ffff:127.0.0.1]/scim",
                "https://public@127.0.0.1/scim",
                encode_cursor(0),
                encode_cursor(2),
            ]
        ),
    )
    ids_or_text = st.one_of(
        st.sampled_from(ids), st.sampled_from(ids).map(lambda i: i[:-2]), strings
    )
    integers = st.one_of(st.integers(0, 5), st.integers(-(2**31), 2**31 - 1))
    valid = from_schema(
        sdl,
        custom_scalars={
            "ID": ids_or_text.map(lambda value: graphql.StringValueNode(value=value)),
            "String": strings.map(lambda value: graphql.StringValueNode(value=value)),
            "Int": integers.map(lambda value: graphql.IntValueNode(value=str(value))),
        },
        mode=Mode.POSITIVE,
    )
    invalid = from_schema(sdl, mode=Mode.NEGATIVE)
    return st.one_of(valid, valid, valid, invalid)


def _check_answer(document: str, response: httpx.Response) -> None:
    assert response.status_code == 200, (document, response.text)
    body = response.json()
    assert set(body) <= {"data", "errors", "extensions"}, body
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", (document, error)
        for word in INTERNAL_WORDS:
            assert word not in error["message"], (document, error)


async def _check_database() -> None:
    async with session_scope() as session:
        for table in SQLModel.metadata.sorted_tables:
            for key in table.foreign_keys:
                orphans = await _orphans(session, key)
                assert orphans == 0, f"{table.name}.{key.parent.name}: {orphans}"

        running = await session.exec(
            select(ProvisioningOperation).where(
                col(ProvisioningOperation.lock_key).is_not(None)
            )
        )
        assert list(running) == []

        for connection in await session.exec(select(ScimConnection)):
            assert connection.base_url
            if connection.token_ciphertext is not None:
                unseal(connection.token_ciphertext, connection.application_id)


async def _orphans(session: Any, key: Any) -> int:
    child, parent = key.parent, key.column
    statement = text(
        f"SELECT count(*) FROM {child.table.name} c "
        f"LEFT JOIN {parent.table.name} p ON c.{child.name} = p.{parent.name} "
        f"WHERE c.{child.name} IS NOT NULL AND p.{parent.name} IS NULL"
    )
    return int((await session.exec(statement)).one()[0])
