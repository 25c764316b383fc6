"""Shared fixtures: a migrated database, the API over ASGI, a real SCIM target.

Settings come from the environment before any product module is imported.
`SMARTLINK_DATABASE_URL`, when set (as CI does for PostgreSQL), selects the
database under test; the suite drops and recreates that database's schema.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile

DATA_DIR = tempfile.mkdtemp(prefix="smartlink-tests-")
os.environ["SMARTLINK_DATA_DIR"] = DATA_DIR
os.environ["SMARTLINK_OUTBOUND_ALLOW"] = "127.0.0.1,localhost"
os.environ["SMARTLINK_ENCRYPTION_KEY"] = base64.urlsafe_b64encode(
    secrets.token_bytes(32)
).decode()
os.environ.pop("SMARTLINK_REDIS_URL", None)
# Scheduled refreshes stay off unless a test turns them on for an application.
os.environ["SMARTLINK_DEFAULT_REFRESH_INTERVAL"] = "0"

from collections.abc import AsyncIterator, Iterator  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from domain.config import get_settings  # noqa: E402
from domain.db import create_engine, session_scope  # noqa: E402
from domain.migrate import upgrade_database  # noqa: E402
from domain.scim.payloads import GROUP_SCHEMA  # noqa: E402
from domain.tokens import create_token  # noqa: E402
from tests.support.graphql import GraphQLClient  # noqa: E402
from tests.support.scim2_server import Scim2Server  # noqa: E402
from tests.support.scimmy_server import ScimmyServer  # noqa: E402

pytest_plugins = ["tests.support.fixtures", "tests.support.fake_scim"]


def pytest_report_header() -> str:
    return f"database: {get_settings().resolved_database_url.split('@')[-1]}"


async def _drop_postgres_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def database() -> Iterator[str]:
    """Migrate a fresh database once for the whole run."""
    import asyncio

    url = get_settings().resolved_database_url
    if url.startswith("postgresql"):
        asyncio.run(_drop_postgres_schema(url))
    upgrade_database(url)
    yield url


@pytest.fixture(autouse=True)
async def clean_tables(database: str) -> AsyncIterator[None]:
    """Empty every table before each test."""
    async with session_scope() as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await session.exec(table.delete())  # type: ignore[call-overload]
    yield


@pytest.fixture
async def api_token() -> str:
    async with session_scope() as session:
        _token, secret = await create_token(session, "tests")
    return secret


@pytest.fixture
async def api(api_token: str) -> AsyncIterator[GraphQLClient]:
    """The GraphQL API over ASGI, authenticated as an admin token."""
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(run_worker=False))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://smartlink.test",
        headers={"Authorization": f"Bearer {api_token}"},
    ) as http:
        yield GraphQLClient(http)


@pytest.fixture(scope="session")
def scim2_server() -> Iterator[Scim2Server]:
    server = Scim2Server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def scimmy_server() -> Iterator[ScimmyServer]:
    server = ScimmyServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def put_only_server(
    scim2_server: Scim2Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scim2Server]:
    """A scim2-server whose ServiceProviderConfig declares no PATCH support."""
    config = scim2_server.tenant().get("/ServiceProviderConfig")
    config["patch"] = {"supported": False}
    path = tmp_path_factory.mktemp("scim2") / "put-only-config.json"
    path.write_text(json.dumps(config))
    server = Scim2Server.start("--service-provider-config", str(path))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def unique_group_names_server(
    scim2_server: Scim2Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scim2Server]:
    """A scim2-server whose Group schema makes displayName unique, so it sends 409s.

    RFC 7643 4.2 leaves group names non-unique, and scim2-server follows it
    unless its schema declares otherwise.
    """
    schemas = scim2_server.tenant().get("/Schemas")["Resources"]
    for schema in schemas:
        if schema["id"] == GROUP_SCHEMA:
            for attribute in schema["attributes"]:
                if attribute["name"] == "displayName":
                    attribute["uniqueness"] = "server"
    path = tmp_path_factory.mktemp("scim2") / "unique-group-names.json"
    path.write_text(json.dumps(schemas))
    server = Scim2Server.start("--schema", str(path))
    yield server
    server.stop()
