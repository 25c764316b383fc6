"""The `smartlink` command-line interface, run as subprocesses.

Token commands use the suite's database, so that the API under test reads the
tokens they create and revoke. The per-test table cleanup removes them too.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from domain.config import get_settings
from domain.migrate import alembic_config
from tests.support.processes import run_smartlink, smartlink_env

TYPENAME = {"query": "{ __typename }"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A deployment's environment, on the suite's database."""
    return smartlink_env(
        tmp_path / "data",
        SMARTLINK_DATABASE_URL=get_settings().resolved_database_url,
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(run_worker=False))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://smartlink.test"
    ) as client:
        yield client


def _create_token(env: dict[str, str], name: str, *options: str) -> str:
    result = run_smartlink("create-token", name, *options, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


async def _status(http: httpx.AsyncClient, secret: str) -> int:
    response = await http.post(
        "/graphql", json=TYPENAME, headers={"Authorization": f"Bearer {secret}"}
    )
    return response.status_code


async def test_create_token_prints_it_last(
    env: dict[str, str], http: httpx.AsyncClient
) -> None:
    result = run_smartlink("create-token", "deploy", env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Created admin token 'deploy'. Store it now; it is not shown again."
    )
    secret = lines[-1]
    assert secret.startswith("slk_")
    assert len(secret) == 47
    assert secret not in result.stderr
    assert await _status(http, secret) == 200


async def test_create_token_twice_fails(
    env: dict[str, str], http: httpx.AsyncClient
) -> None:
    first = _create_token(env, "deploy")

    second = run_smartlink("create-token", "deploy", env=env)

    assert second.returncode == 1
    assert second.stdout == ""
    assert second.stderr.splitlines()[-1] == (
        "Error: A token named 'deploy' already exists; revoke it first or pick "
        "another name."
    )
    assert await _status(http, first) == 200


async def test_list_tokens_hides_secrets(
    env: dict[str, str], http: httpx.AsyncClient
) -> None:
    admin = _create_token(env, "deploy")
    viewer = _create_token(env, "dashboard", "--role", "viewer")
    assert await _status(http, admin) == 200

    result = run_smartlink("list-tokens", env=env)

    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(row[0], row[1]) for row in rows] == [
        ("dashboard", "viewer"),
        ("deploy", "admin"),
    ]
    assert rows[0][3] == "last used never"
    assert rows[1][3].startswith("last used 2")
    assert len(rows[1][3]) == len("last used YYYY-MM-DD HH:MM")
    output = result.stdout + result.stderr
    for secret in (admin, viewer):
        assert secret not in output
        assert secret.removeprefix("slk_") not in output
        assert hashlib.sha256(secret.encode()).hexdigest() not in output


async def test_revoke_token_rejects_it(
    env: dict[str, str], http: httpx.AsyncClient
) -> None:
    secret = _create_token(env, "deploy")
    other = _create_token(env, "dashboard")

    result = run_smartlink("revoke-token", "deploy", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Revoked token 'deploy'.\n"
    assert await _status(http, secret) == 401
    assert await _status(http, other) == 200
    listing = run_smartlink("list-tokens", env=env)
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == [
        "dashboard"
    ]


async def test_revoke_unknown_token_fails(
    env: dict[str, str], http: httpx.AsyncClient
) -> None:
    other = _create_token(env, "deploy")

    result = run_smartlink("revoke-token", "unknown", env=env)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "Error: No token is named 'unknown'; `smartlink list-tokens` shows the names."
    )
    assert await _status(http, other) == 200


def test_migrate_empty_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "new"
    env = smartlink_env(data_dir)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    first = run_smartlink("migrate", env=env)
    second = run_smartlink("migrate", env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout == "Database is up to date.\n"
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(data_dir / "smartlink.db") as database:
        version = database.execute("SELECT version_num FROM alembic_version")
        versions = version.fetchall()
        tables = {
            row[0]
            for row in database.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
    assert versions == [(head,)]
    assert tables == {"alembic_version", *SQLModel.metadata.tables}


def test_worker_needs_redis_url(tmp_path: Path) -> None:
    result = run_smartlink("worker", env=smartlink_env(tmp_path / "data"), timeout=30)

    assert result.returncode == 2
    assert "SMARTLINK_REDIS_URL is not set" in result.stderr
    assert "redis://" in result.stderr
