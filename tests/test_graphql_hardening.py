"""Limits on GraphQL documents, production switches, and masked errors."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import re
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from domain import applications
from domain.config import get_settings
from tests.support.graphql import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent

#: Versions that carry security fixes, for each dependency that needs one.
SECURITY_FLOORS = {"strawberry-graphql": (0, 323, 2), "dramatiq": (2, 2, 0)}

INTROSPECTION = "{ __schema { queryType { name } } }"

NESTED = """
{ users { edges { node { folders { edges { node {
  applications { edges { node { provisioning { lastRefresh { id } } } } }
} } } } } } }
"""

OpenClient = Callable[..., AbstractAsyncContextManager[GraphQLClient]]


@pytest.fixture
def open_client(api_token: str, monkeypatch: pytest.MonkeyPatch) -> OpenClient:
    """Open the API over ASGI after setting the given settings."""

    @asynccontextmanager
    async def open_(**settings: object) -> AsyncIterator[GraphQLClient]:
        from api.app import create_app

        for name, value in settings.items():
            monkeypatch.setattr(get_settings(), name, value)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(run_worker=False)),
            base_url="http://smartlink.test",
            headers={"Authorization": f"Bearer {api_token}"},
        ) as http:
            yield GraphQLClient(http)

    return open_


def messages(body: dict[str, object]) -> list[str]:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [error["message"] for error in errors]


async def test_depth_limit(api: GraphQLClient, open_client: OpenClient) -> None:
    default = await api.execute(NESTED)
    async with open_client(graphql_max_depth=8) as shallow:
        body = await shallow.execute(NESTED)

    assert "errors" not in default
    assert body["data"] is None
    assert messages(body) == ["'anonymous' exceeds maximum operation depth of 8"]


async def test_alias_limit(api: GraphQLClient) -> None:
    aliases = " ".join(f"a{i}: applications {{ totalCount }}" for i in range(31))

    body = await api.execute("{ " + aliases + " }")

    assert body["data"] is None
    assert messages(body) == ["31 aliases found. Allowed: 30"]


async def test_token_limit(api: GraphQLClient) -> None:
    fields = " ".join("__typename" for _ in range(2001))

    body = await api.execute("{ " + fields + " }")

    assert body["data"] is None
    assert messages(body) == [
        "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."
    ]


async def test_page_size_limit(api: GraphQLClient) -> None:
    body = await api.execute("{ applications(first: 101) { totalCount } }")

    assert body["data"] is None
    assert messages(body) == [
        "`first` is 101; it must be between 0 and 100. Page through longer lists "
        "with `after`."
    ]


async def test_introspection_switch(
    api: GraphQLClient, open_client: OpenClient
) -> None:
    default = await api(INTROSPECTION)
    async with open_client(graphql_introspection=False) as production:
        rejected = await production.execute(INTROSPECTION)
        typed = await production.execute('{ __type(name: "User") { name } }')
        plain = await production.execute("{ __typename }")

    assert default == {"__schema": {"queryType": {"name": "Query"}}}
    assert rejected["data"] is None
    assert messages(rejected)[0] == (
        "GraphQL introspection has been disabled, but the requested query "
        "contained the field '__schema'."
    )
    assert typed["data"] is None
    assert plain == {"data": {"__typename": "Query"}}


async def test_suggestion_switch(api: GraphQLClient, open_client: OpenClient) -> None:
    typo = '{ applicatons { totalCount } node(id: "x") { idd } }'

    suggested = await api.execute(typo)
    async with open_client(graphql_field_suggestions=False) as production:
        hidden = await production.execute(typo)

    assert messages(hidden) == [
        "Cannot query field 'applicatons' on type 'Query'.",
        "Cannot query field 'idd' on type 'Node'.",
    ]
    assert messages(suggested) == [
        "Cannot query field 'applicatons' on type 'Query'. Did you mean "
        "'applications'?",
        "Cannot query field 'idd' on type 'Node'. Did you mean 'id'?",
    ]


async def test_graphiql_switch(open_client: OpenClient) -> None:
    page = {"Accept": "text/html"}

    async with open_client(graphiql=False) as production:
        hidden = await production.http.get("/graphql", headers=page)
    async with open_client(graphiql=True) as development:
        served = await development.http.get("/graphql", headers=page)

    assert hidden.status_code == 404
    assert served.status_code == 200
    assert "graphiql" in served.text.lower()


async def test_graphiql_page_needs_no_token() -> None:
    from api.app import create_app

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(run_worker=False)),
        base_url="http://smartlink.test",
    ) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        query = await http.post("/graphql", json={"query": "{ __typename }"})

    assert page.status_code == 200
    assert query.status_code == 401


async def test_get_queries_refused(api: GraphQLClient) -> None:
    response = await api.http.get(
        "/graphql", params={"query": "{ applications { totalCount } }"}
    )

    assert response.status_code == 400
    assert response.text == "queries are not allowed when using GET"


async def test_unexpected_error_masked(
    api: GraphQLClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("connection to db-internal.example:5432 as 'smartlink'")

    monkeypatch.setattr(applications, "list_applications", broken)

    body = await api.execute("{ applications { totalCount } }")

    assert body["data"] is None
    [error] = body["errors"]
    error_id = error["extensions"]["errorId"]
    assert re.fullmatch(r"[0-9a-f]{32}", error_id)
    assert error["message"] == (
        f"Internal server error {error_id}. The server log holds its details under "
        "this id; quote it when reporting the problem."
    )
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "db-internal" not in str(body)
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "db-internal.example" in caplog.text
    assert "Traceback" in caplog.text


def test_security_floors_installed() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = pyproject["project"]["dependencies"]

    for name, floor in SECURITY_FLOORS.items():
        installed = importlib.metadata.version(name)
        assert _release(installed) >= floor, f"{name} {installed} is too old"
        declared = [r for r in requirements if re.match(rf"{name}(\[.*\])?>=", r)]
        assert len(declared) == 1, f"{name} has no >= floor in pyproject.toml"
        assert _release(declared[0].split(">=")[1]) >= floor


def _release(version: str) -> tuple[int, ...]:
    numbers = re.match(r"\d+(\.\d+)*", version)
    assert numbers is not None, version
    return tuple(int(part) for part in numbers.group().split("."))


async def test_field_error_keeps_session_usable(api: GraphQLClient) -> None:
    # The bad cursor nulls `provisioning` while its sibling `connection` is
    # reading the database; graphql-core cancels that sibling. The next
    # mutation must still find the request's session usable.
    document = """
    mutation {
      createApplication(input: {name: "Acme"}) {
        application {
          provisioning {
            connection { baseUrl }
            operations(after: "bad") { totalCount }
          }
        }
      }
      createFolder(input: {name: "Sales"}) { folder { name } errors { code } }
    }
    """

    body = await api.execute(document)

    assert body["data"]["createApplication"] == {"application": None}
    assert body["data"]["createFolder"] == {"folder": {"name": "Sales"}, "errors": []}
    assert messages(body) == [
        "Cursor 'bad' in `after` is not valid; pass a cursor from this list's edges "
        "or pageInfo."
    ]


@pytest.mark.parametrize(
    ("name", "problem", "literal_problem"),
    [
        ("Acme\x00CRM", "contains the NUL character (U+0000)", None),
        ("Acme \u202eMRC", "bidirectional control character U+202E", None),
        ("Acme \u2067CRM", "bidirectional control character U+2067", None),
        (
            "Acme\ud800",
            "contains a lone UTF-16 surrogate",
            "Syntax Error: Invalid Unicode escape sequence: '\\ud800'.",
        ),
    ],
)
async def test_unstorable_text_rejected(
    api: GraphQLClient, name: str, problem: str, literal_problem: str | None
) -> None:
    # json.dumps escapes both as \\u sequences, which GraphQL strings share.
    async def post(query: str, **variables: str) -> dict[str, object]:
        payload = json.dumps({"query": query, "variables": variables})
        response = await api.http.post(
            "/graphql", content=payload, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    as_variable = await post(
        "mutation($name: String!) { createApplication(input: {name: $name}) "
        "{ errors { code } } }",
        name=name,
    )
    as_literal = await post(
        f"mutation {{ createApplication(input: {{name: {json.dumps(name)}}}) "
        "{ errors { code } } }"
    )
    searched = await post(
        "query($search: String) { applications(search: $search) { totalCount } }",
        search=name,
    )

    for body in (as_variable, searched):
        assert body["data"] is None
        [error] = body["errors"]  # type: ignore[misc]
        assert error["extensions"] == {"code": "INVALID_TEXT"}
        assert problem in error["message"]
    # graphql-core itself rejects a lone surrogate written in the document.
    assert as_literal["data"] is None
    [error] = as_literal["errors"]  # type: ignore[misc]
    if literal_problem is None:
        assert problem in error["message"]
    else:
        assert error["message"] == literal_problem
    assert (await api("{ applications { totalCount } }"))["applications"] == {
        "totalCount": 0
    }


async def test_oversized_body_rejected(open_client: OpenClient) -> None:
    padding = "x" * 2048
    async with open_client(max_request_bytes=1024) as client:
        response = await client.http.post(
            "/graphql", json={"query": "{ __typename }", "variables": {"p": padding}}
        )
        small = await client.http.post("/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "TOO_LARGE"}
    assert "SMARTLINK_MAX_REQUEST_BYTES" in error["message"]
    assert small.status_code == 200


async def test_oversized_chunked_body_rejected(open_client: OpenClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }", "variables": {"p": "'
        for _ in range(4):
            yield b"x" * 512
        yield b'"}}'

    async with open_client(max_request_bytes=1024) as client:
        response = await client.http.post(
            "/graphql",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 413


async def test_deeply_nested_body_rejected(api: GraphQLClient) -> None:
    depth = 100_000
    body = '{"query": "{ __typename }", "variables": {"a": ' + "[" * depth
    body += "]" * depth + "}}"

    response = await api.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert "too deeply" in error["message"]


async def test_long_search_rejected(api: GraphQLClient) -> None:
    data = await api.execute(
        "query($s: String) { users(search: $s) { totalCount } }", s="x" * 50_010
    )

    [error] = data["errors"]
    assert error["extensions"]["code"] == "INVALID"
    assert "maximum is 200" in error["message"]


async def test_long_name_not_echoed(api: GraphQLClient) -> None:
    data = await api(
        """
        mutation($name: String!) {
          createApplication(input: {name: $name}) { errors { message field } }
        }
        """,
        name="n" * 100_000,
    )

    [error] = data["createApplication"]["errors"]
    assert error["field"] == ["name"]
    assert len(error["message"]) < 300
    assert "cut from 100000 characters" in error["message"]


async def test_long_syntax_error_cut(api: GraphQLClient) -> None:
    data = await api.execute("A" * 200_000)

    [error] = data["errors"]
    assert len(error["message"]) < 1100
    assert "characters in all" in error["message"]
