"""Bearer-token authentication of the HTTP API, over ASGI."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from domain.db import get_engine, session_scope
from domain.models import TokenRole
from domain.tokens import create_token, revoke_token
from tests.support.graphql import GraphQLClient

TYPENAME = {"query": "{ __typename }"}

APPLICATIONS = """
query { applications { totalCount } }
"""

CREATE_APPLICATION = """
mutation { createApplication(input: {name: "Acme CRM"}) { errors { code } } }
"""


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI, with no `Authorization` header."""
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(run_worker=False))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://smartlink.test"
    ) as client:
        yield client


async def _new_token(name: str, role: TokenRole = TokenRole.ADMIN) -> str:
    async with session_scope() as session:
        _token, secret = await create_token(session, name, role)
    return secret


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _last_used_at(name: str) -> object:
    statement = text("SELECT last_used_at FROM api_tokens WHERE name = :name")
    async with get_engine().connect() as connection:
        return (await connection.execute(statement, {"name": name})).scalar_one()


async def _application_count(api: GraphQLClient) -> int:
    count: int = (await api(APPLICATIONS))["applications"]["totalCount"]
    return count


async def test_healthz_needs_no_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_missing_token_gets_401(
    http: httpx.AsyncClient, api: GraphQLClient
) -> None:
    response = await http.post("/graphql", json={"query": CREATE_APPLICATION})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="smartlink"'
    assert response.headers["content-type"] == "application/json"
    message = response.json()["errors"][0]["message"]
    assert "Authorization: Bearer <token>" in message
    assert "smartlink create-token NAME" in message
    assert await _application_count(api) == 0


async def test_other_scheme_gets_401(http: httpx.AsyncClient) -> None:
    secret = await _new_token("basic")

    response = await http.post(
        "/graphql", json=TYPENAME, headers={"Authorization": f"Basic {secret}"}
    )

    assert response.status_code == 401
    assert "Missing API token" in response.json()["errors"][0]["message"]


async def test_wrong_token_gets_401(
    http: httpx.AsyncClient, api: GraphQLClient
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": CREATE_APPLICATION},
        headers=_bearer("slk_not-a-token"),
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="smartlink"'
    message = response.json()["errors"][0]["message"]
    assert "Invalid API token" in message
    assert "smartlink create-token NAME" in message
    assert "slk_not-a-token" not in response.text
    assert await _application_count(api) == 0


async def test_revoked_token_gets_401(http: httpx.AsyncClient) -> None:
    secret = await _new_token("ci")
    before = await http.post("/graphql", json=TYPENAME, headers=_bearer(secret))

    async with session_scope() as session:
        await revoke_token(session, "ci")
    after = await http.post("/graphql", json=TYPENAME, headers=_bearer(secret))

    assert before.status_code == 200
    assert before.json() == {"data": {"__typename": "Query"}}
    assert after.status_code == 401
    assert "revoked" in after.json()["errors"][0]["message"]


async def test_graphiql_page_needs_no_token(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", headers={"Accept": "text/html,application/xhtml+xml"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>Strawberry GraphiQL</title>" in response.text


async def test_get_without_html_needs_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "application/json"})

    assert response.status_code == 401


async def test_query_over_get_needs_token(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "text/html"}
    )

    assert response.status_code == 401


async def test_query_over_get_rejected(http: httpx.AsyncClient) -> None:
    secret = await _new_token("get")

    response = await http.get(
        "/graphql", params={"query": "{ __typename }"}, headers=_bearer(secret)
    )

    assert response.status_code == 400
    assert response.text == "queries are not allowed when using GET"


async def test_mutation_over_get_rejected(
    http: httpx.AsyncClient, api: GraphQLClient
) -> None:
    secret = await _new_token("get")

    response = await http.get(
        "/graphql", params={"query": CREATE_APPLICATION}, headers=_bearer(secret)
    )

    assert response.status_code == 400
    assert "mutations are not allowed when using GET" in response.text
    assert await _application_count(api) == 0


async def test_viewer_can_query(http: httpx.AsyncClient) -> None:
    secret = await _new_token("dashboard", TokenRole.VIEWER)

    response = await http.post(
        "/graphql", json={"query": APPLICATIONS}, headers=_bearer(secret)
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"applications": {"totalCount": 0}}}


async def test_viewer_cannot_mutate(
    http: httpx.AsyncClient, api: GraphQLClient
) -> None:
    secret = await _new_token("dashboard", TokenRole.VIEWER)

    response = await http.post(
        "/graphql", json={"query": CREATE_APPLICATION}, headers=_bearer(secret)
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "The API token 'dashboard' has the viewer role, which may not run "
        "mutations. Use an admin token; an operator creates one with "
        "`smartlink create-token NAME --role admin`."
    ]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await _application_count(api) == 0


async def test_tokens_stored_as_digests(http: httpx.AsyncClient) -> None:
    secret = await _new_token("stored")

    async with get_engine().connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_tokens"))).all()

    assert len(rows) == 1
    row = rows[0]._mapping
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    for column, value in row.items():
        assert secret not in str(value), column
        assert secret.removeprefix("slk_") not in str(value), column


async def test_request_records_last_use(http: httpx.AsyncClient) -> None:
    secret = await _new_token("used")
    before = await _last_used_at("used")

    first = await http.post("/graphql", json=TYPENAME, headers=_bearer(secret))
    after_first = await _last_used_at("used")
    second = await http.post("/graphql", json=TYPENAME, headers=_bearer(secret))
    after_second = await _last_used_at("used")

    assert first.status_code == 200
    assert second.status_code == 200
    assert before is None
    assert after_first is not None
    assert after_second == after_first


ROLLBACK_THEN_AUDIT = """
mutation($applicationId: ID!) {
  failed: grantAccess(input: {userId: "not-an-id", applicationId: $applicationId}) {
    errors { code }
  }
  updated: updateProvisioningSettings(
    input: {applicationId: $applicationId, userGainsAccess: NOTIFICATION}
  ) { settings { userGainsAccess } errors { code } }
}
"""


async def test_token_survives_mutation_rollback(api: GraphQLClient) -> None:
    # The first mutation rolls the request's session back; the second writes
    # an audit entry under the token's name, read after that rollback.
    from tests.support.fixtures import create_application

    application_id = await create_application(api)

    data = await api(ROLLBACK_THEN_AUDIT, applicationId=application_id)

    assert data["failed"]["errors"] != []
    assert data["updated"]["errors"] == []
    assert data["updated"]["settings"] == {"userGainsAccess": "NOTIFICATION"}
