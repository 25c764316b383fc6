"""SCIM tokens at rest: bound to their application, rotatable, never logged."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from domain.config import get_settings
from domain.db import session_scope
from domain.models import ConnectionStatus, ScimConnection
from domain.secrets import (
    SecretKeyError,
    encryption_keys,
    generate_key,
    seal,
    unseal,
)
from domain.tokens import create_token
from tests.support.fixtures import (
    CONFIGURE,
    connect,
    create_application,
    create_user,
    grant_access,
    wait_for_refresh,
)
from tests.support.graphql import GraphQLClient
from tests.support.processes import run_process, start_process
from tests.support.scim2_server import ScimTenant, free_port, wait_for_port

REFRESH = """
mutation($applicationId: ID!) {
  refreshProvisioning(input: {applicationId: $applicationId}) {
    refreshRun { id status } errors { code message }
  }
}
"""

CREATE_ACCOUNT = """
mutation($applicationId: ID!, $userId: ID!) {
  createAccount(input: {applicationId: $applicationId, userId: $userId}) {
    account { userName } errors { code message }
  }
}
"""

OPERATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { operations { edges { node { action status error } } } }
    }
  }
}
"""

ACCOUNTS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { accounts { edges { node { userName raw } } } }
    }
  }
}
"""

UseKey = Callable[[str | None], None]


@pytest.fixture
def use_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[UseKey]:
    """Switch `SMARTLINK_ENCRYPTION_KEY` for the rest of the test."""

    def use(value: str | None) -> None:
        monkeypatch.setattr(get_settings(), "encryption_key", value)
        encryption_keys.cache_clear()

    yield use
    encryption_keys.cache_clear()


def uuid_of(global_id: str) -> uuid.UUID:
    from strawberry import relay

    return uuid.UUID(relay.GlobalID.from_id(global_id).node_id)


def test_token_bound_to_application() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    sealed = seal("scim-token-1234", first)

    assert unseal(sealed, first) == "scim-token-1234"
    with pytest.raises(SecretKeyError) as raised:
        unseal(sealed, second)
    assert "copied from another application" in str(raised.value)
    assert "scim-token-1234" not in str(raised.value)


async def test_copied_token_does_not_decrypt(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    # Given a connected application, and a second one holding a copy of its row
    source_id = await create_application(api, "Source")
    await connect(api, source_id, scim_target)
    copy_id = await create_application(api, "Copy")
    async with session_scope() as session:
        source = await session.get(ScimConnection, uuid_of(source_id))
        assert source is not None
        session.add(
            ScimConnection(
                application_id=uuid_of(copy_id),
                base_url=source.base_url,
                token_ciphertext=source.token_ciphertext,
                status=ConnectionStatus.CONNECTED,
            )
        )
    user_id = await create_user(api, "ada@example.com")
    await grant_access(api, user_id, copy_id)

    # When the copy is used
    refresh = await api(REFRESH, applicationId=copy_id)
    run = await wait_for_refresh(api, copy_id)
    created = await api(CREATE_ACCOUNT, applicationId=copy_id, userId=user_id)

    # Then its token does not decrypt, and nothing reached the target
    assert refresh["refreshProvisioning"]["errors"] == []
    assert run["status"] == "FAILED"
    assert "does not decrypt with any configured encryption key" in run["error"]
    assert "Save the token again" in run["error"]
    errors = created["createAccount"]["errors"]
    assert [e["code"] for e in errors] == ["TOKEN_UNREADABLE"]
    assert created["createAccount"]["account"] is None
    operations = await api(OPERATIONS, id=copy_id)
    edges = operations["node"]["provisioning"]["operations"]["edges"]
    assert [(e["node"]["action"], e["node"]["status"]) for e in edges] == [
        ("CREATE_ACCOUNT", "FAILED")
    ]
    assert scim_target.users() == []


def test_old_key_still_decrypts(use_key: UseKey) -> None:
    old, new = generate_key(), generate_key()
    application_id = uuid.uuid4()
    use_key(old)
    sealed_old = seal("scim-token-1234", application_id)

    use_key(f"{new},{old}")
    sealed_new = seal("scim-token-1234", application_id)

    assert unseal(sealed_old, application_id) == "scim-token-1234"
    use_key(new)
    assert unseal(sealed_new, application_id) == "scim-token-1234"
    with pytest.raises(SecretKeyError):
        unseal(sealed_old, application_id)


def test_malformed_key_named(use_key: UseKey) -> None:
    use_key(f"{generate_key()},c2hvcnQ=")

    with pytest.raises(SecretKeyError) as raised:
        encryption_keys()

    assert str(raised.value) == (
        "The encryption key in SMARTLINK_ENCRYPTION_KEY (key 2) is 5 bytes; it "
        "must be 32. Generate one with `smartlink generate-key`."
    )


def test_key_file_owner_only(
    use_key: UseKey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path / "data")
    use_key(None)

    keys = encryption_keys()
    encryption_keys.cache_clear()

    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(keys) == 1
    assert encryption_keys() == keys


def _cli_env(key: str) -> dict[str, str]:
    return {
        **os.environ,
        "SMARTLINK_DATABASE_URL": get_settings().resolved_database_url,
        "SMARTLINK_ENCRYPTION_KEY": key,
    }


def _smartlink() -> str:
    return str(Path(sys.executable).parent / "smartlink")


async def test_rotate_key_command(
    api: GraphQLClient, scim_target: ScimTenant, use_key: UseKey, job_worker: None
) -> None:
    # Given a token sealed with the current key, and one no key opens
    old = get_settings().encryption_key
    assert old is not None
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    broken_id = await create_application(api, "Broken")
    async with session_scope() as session:
        session.add(
            ScimConnection(
                application_id=uuid_of(broken_id),
                base_url=scim_target.base_url,
                token_ciphertext=b"\0" * 40,
            )
        )
    new = generate_key()

    # When an operator puts a new key first and rotates
    result = await asyncio.to_thread(
        run_process,
        [_smartlink(), "rotate-key"],
        env=_cli_env(f"{new},{old}"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then the readable token opens with the new key alone
    assert result.returncode == 1, result.stderr
    assert "Re-encrypted 1 SCIM tokens with the first key." in result.stdout
    assert str(uuid_of(broken_id)) in result.stderr
    assert scim_target.token not in result.stdout + result.stderr
    use_key(new)
    async with session_scope() as session:
        connection = await session.get(ScimConnection, uuid_of(application_id))
        assert connection is not None and connection.token_ciphertext is not None
        assert unseal(connection.token_ciphertext, connection.application_id) == (
            scim_target.token
        )
    await api(REFRESH, applicationId=application_id)
    run = await wait_for_refresh(api, application_id)
    assert run["status"] == "SUCCEEDED"


async def test_tokens_absent_from_logs(
    api: GraphQLClient,
    api_token: str,
    scim_target: ScimTenant,
    job_worker: None,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The SCIM client quiets httpx's request lines; turn them back on to check them.
    caplog.set_level(logging.DEBUG, logger="httpx")
    wrong_token = "wrong-scim-token-" + uuid.uuid4().hex
    scim_target.create_user("grace@example.com")

    # In this process: connect, import, create an account, fail on a bad token
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    user_id = await create_user(api, "ada@example.com")
    await grant_access(api, user_id, application_id)
    created = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)
    assert created["createAccount"]["errors"] == []
    accounts = await api(ACCOUNTS, id=application_id)
    failed = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=scim_target.base_url,
        token=wrong_token,
    )
    assert failed["configureProvisioning"]["errors"][0]["code"] == (
        "TARGET_UNAUTHORIZED"
    )

    # And in a `smartlink serve` process logging at DEBUG
    served = await _serve_and_connect(scim_target, tmp_path / "serve.log")

    tokens = [scim_target.token, wrong_token, api_token, served.api_token]
    logged = caplog.text + "\n".join(str(record.__dict__) for record in caplog.records)
    assert len(caplog.records) > 50
    assert "HTTP Request: GET" in logged
    assert "Refresh" in served.output
    for token in tokens:
        assert token not in logged
        assert token not in served.output
        assert token not in str(accounts)


class Served:
    def __init__(self, api_token: str, output: str) -> None:
        self.api_token = api_token
        self.output = output


async def _serve_and_connect(scim_target: ScimTenant, log_path: Path) -> Served:
    """Run `smartlink serve` at DEBUG, connect an application through it, and
    return its whole output, which goes to a file so a full pipe cannot block
    the server."""
    async with session_scope() as session:
        _token, secret = await create_token(session, "serve-logs")
    port = free_port()
    env = {
        **_cli_env(get_settings().encryption_key or ""),
        "SMARTLINK_LOG_LEVEL": "DEBUG",
    }
    with log_path.open("w") as log:
        process = start_process(
            [_smartlink(), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        await asyncio.to_thread(wait_for_port, port, 60)
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60
        ) as http:
            served_api = GraphQLClient(http)
            application_id = await create_application(served_api, "Served")
            data = await served_api(
                CONFIGURE,
                applicationId=application_id,
                baseUrl=scim_target.base_url,
                token=scim_target.token,
            )
            assert data["configureProvisioning"]["errors"] == []
            run = await wait_for_refresh(served_api, application_id, timeout=60)
            assert run["status"] == "SUCCEEDED"
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
    return Served(secret, log_path.read_text())
