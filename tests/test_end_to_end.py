"""The deployed shape: `smartlink serve` and `smartlink worker` as processes.

These tests drive the API over real HTTP, as an automation script would, with
jobs going through Redis to a separate worker process, or through the
in-process worker when no Redis URL is set. Redis comes from
`SMARTLINK_TEST_REDIS_URL` (default redis://127.0.0.1:6379/15), whose database
they flush. `tests/support/deployment.py` starts the processes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import update
from sqlmodel import col

from domain.db import create_engine
from domain.models import RefreshSchedule
from domain.models.columns import utcnow
from tests.support.deployment import Client, Deployment, deploy, deployment_client
from tests.support.fixtures import (
    CONFIGURE,
    create_application,
    create_user,
    grant_access,
    wait_for_refresh,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import Scim2Server, ScimTenant

TEST_REDIS_URL = os.environ.get("SMARTLINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

#: Accounts seeded in the target: more than one page of the default page size
#: (100), so the refresh follows SCIM paging.
SEEDED_ACCOUNTS = 120

CREATE_FOLDER = """
mutation($name: String!) {
  createFolder(input: {name: $name}) { folder { id } errors { code message } }
}
"""

ADD_APPLICATION_TO_FOLDER = """
mutation($folderId: ID!, $applicationId: ID!) {
  addApplicationToFolder(
    input: {folderId: $folderId, applicationId: $applicationId}
  ) { errors { code message } }
}
"""

ADD_USER_TO_FOLDER = """
mutation($folderId: ID!, $userId: ID!) {
  addUserToFolder(input: {folderId: $folderId, userId: $userId}) {
    errors { code message }
  }
}
"""

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
    account { scimId userName externalId user { id } }
    errors { code message field }
  }
}
"""

ACCOUNTS = """
query($id: ID!, $linked: Boolean) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(first: 3, linked: $linked) {
          totalCount
          edges { node { userName user { email } } }
        }
      }
    }
  }
}
"""

ACCESS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        access {
          totalCount
          edges { node { user { email } presentInApp account { scimId } } }
        }
      }
    }
  }
}
"""

OPERATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations { edges { node { action status trigger targetStatus } } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The flushed Redis database of the tests; fails when Redis is down."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=5)
    problem = None
    try:
        client.flushdb()
    except redis.RedisError as exc:
        problem = str(exc)
    finally:
        client.close()

    if problem is not None:
        pytest.fail(
            f"Redis is not answering at {TEST_REDIS_URL}: {problem} Start Redis, "
            "or set SMARTLINK_TEST_REDIS_URL to a Redis database the tests may "
            "flush.",
            pytrace=False,
        )
    return TEST_REDIS_URL


@pytest.fixture(scope="module")
def redis_deployment(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
) -> Deployment:
    directory = tmp_path_factory.mktemp("redis-deployment")
    return deploy(directory, request.addfinalizer, SMARTLINK_REDIS_URL=redis_url)


@pytest.fixture
def embedded_deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    return deploy(tmp_path, request.addfinalizer)


@pytest.fixture
async def redis_client(redis_deployment: Deployment) -> AsyncIterator[Client]:
    async for client in deployment_client(redis_deployment):
        yield client


@pytest.fixture
async def embedded_client(embedded_deployment: Deployment) -> AsyncIterator[Client]:
    async for client in deployment_client(embedded_deployment):
        yield client


def _uuid(global_id: str) -> str:
    """Return the UUID inside a Relay global id (base64 of `Type:uuid`)."""
    return base64.b64decode(global_id).decode().split(":", 1)[1]


def _lines_with(output: str, secret: str) -> list[str]:
    return [line for line in output.splitlines() if secret in line]


def _seed(target: ScimTenant, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        target.create_user(
            f"seed{number:03}@example.org", displayName=f"Seed {number:03}"
        )


async def _configure(
    api: GraphQLClient, application_id: str, target: ScimTenant
) -> str:
    """Configure the application against `target`; returns the queued run's id."""
    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=target.base_url,
        token=target.token,
    )
    payload = data["configureProvisioning"]
    assert payload["errors"] == []
    assert payload["provisioning"]["status"] == "CONNECTED"
    assert payload["refreshRun"]["status"] == "QUEUED"
    run_id: str = payload["refreshRun"]["id"]
    return run_id


async def _accounts(
    api: GraphQLClient, application_id: str, linked: bool | None = None
) -> dict[str, Any]:
    data = await api(ACCOUNTS, id=application_id, linked=linked)
    accounts: dict[str, Any] = data["node"]["provisioning"]["accounts"]
    return accounts


async def _access(api: GraphQLClient, application_id: str) -> list[tuple[Any, ...]]:
    data = await api(ACCESS, id=application_id)
    access = data["node"]["provisioning"]["access"]
    assert access["totalCount"] == len(access["edges"])
    return [
        (
            edge["node"]["user"]["email"],
            edge["node"]["presentInApp"],
            edge["node"]["account"]["scimId"] if edge["node"]["account"] else None,
        )
        for edge in access["edges"]
    ]


async def test_script_over_redis(
    redis_client: Client,
    redis_deployment: Deployment,
    scim2_server: Scim2Server,
) -> None:
    api = redis_client.api
    target = scim2_server.tenant()
    _seed(target, SEEDED_ACCOUNTS)
    application_id = await create_application(api, "Acme CRM")
    alice = await create_user(api, "alice@example.com", givenName="Alice")
    bob = await create_user(api, "bob@example.com", givenName="Bob")
    await create_user(api, "carol@example.com", givenName="Carol")
    folder = (await api(CREATE_FOLDER, name="Sales"))["createFolder"]["folder"]["id"]
    added = await api(
        ADD_APPLICATION_TO_FOLDER, folderId=folder, applicationId=application_id
    )
    assert added["addApplicationToFolder"]["errors"] == []
    joined = await api(ADD_USER_TO_FOLDER, folderId=folder, userId=alice)
    assert joined["addUserToFolder"]["errors"] == []
    await grant_access(api, bob, application_id)

    run_id = await _configure(api, application_id, target)
    run = await wait_for_refresh(api, application_id, timeout=60)

    assert run == {
        "id": run_id,
        "status": "SUCCEEDED",
        "accountsRead": SEEDED_ACCOUNTS,
        "groupsRead": 0,
        "totalAccounts": SEEDED_ACCOUNTS,
        "totalGroups": 0,
        "complete": True,
        "error": None,
    }
    # The worker process ran the job, not the server: it went through Redis.
    finished = f"Refresh {_uuid(run_id)} read {SEEDED_ACCOUNTS} accounts"
    server, worker = redis_deployment.services
    assert finished in worker.output()
    assert finished not in server.output()

    accounts = await _accounts(api, application_id)
    assert accounts["totalCount"] == SEEDED_ACCOUNTS
    assert [e["node"]["userName"] for e in accounts["edges"]] == [
        "seed000@example.org",
        "seed001@example.org",
        "seed002@example.org",
    ]
    assert (await _accounts(api, application_id, linked=True))["totalCount"] == 0
    assert await _access(api, application_id) == [
        ("alice@example.com", False, None),
        ("bob@example.com", False, None),
    ]

    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=alice)

    payload = data["createAccount"]
    assert payload["errors"] == []
    account = payload["account"]
    assert account["userName"] == "alice@example.com"
    assert account["externalId"] == _uuid(alice)
    assert account["user"] == {"id": alice}
    in_target = [u for u in target.users() if u["userName"] == "alice@example.com"]
    assert len(in_target) == 1
    assert in_target[0]["id"] == account["scimId"]
    assert in_target[0]["externalId"] == _uuid(alice)
    assert in_target[0]["name"]["givenName"] == "Alice"
    assert await _access(api, application_id) == [
        ("alice@example.com", True, account["scimId"]),
        ("bob@example.com", False, None),
    ]
    assert (await _accounts(api, application_id))["totalCount"] == SEEDED_ACCOUNTS + 1
    linked = await _accounts(api, application_id, linked=True)
    assert linked["edges"] == [
        {
            "node": {
                "userName": "alice@example.com",
                "user": {"email": "alice@example.com"},
            }
        }
    ]
    operations = await api(OPERATIONS, id=application_id)
    assert operations["node"]["provisioning"]["operations"]["edges"] == [
        {
            "node": {
                "action": "CREATE_ACCOUNT",
                "status": "SUCCEEDED",
                "trigger": f"api:{redis_client.token_name}",
                "targetStatus": 201,
            }
        }
    ]


async def test_logs_hide_tokens(
    redis_client: Client,
    redis_deployment: Deployment,
    scim2_server: Scim2Server,
) -> None:
    api = redis_client.api
    target = scim2_server.tenant()
    _seed(target, 2)
    wrong_token = f"wrong-{uuid.uuid4().hex}"
    # The deployment's database outlives this test on SQLite: names differ
    # from the other tests'.
    application_id = await create_application(api, "Globex CRM")
    unauthorized_id = await create_application(api, "Globex HR")
    user_id = await create_user(api, "dave@example.com")
    await grant_access(api, user_id, application_id)

    await _configure(api, application_id, target)
    await wait_for_refresh(api, application_id, timeout=60)
    refreshed = await api(REFRESH, applicationId=application_id)
    assert refreshed["refreshProvisioning"]["errors"] == []
    await wait_for_refresh(api, application_id, timeout=60)
    created = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)
    assert created["createAccount"]["errors"] == []
    unauthorized = await api(
        CONFIGURE,
        applicationId=unauthorized_id,
        baseUrl=target.base_url,
        token=wrong_token,
    )
    errors = unauthorized["configureProvisioning"]["errors"]
    assert [e["code"] for e in errors] == ["TARGET_UNAUTHORIZED"]

    output = redis_deployment.output()
    # The log contains the SCIM traffic, so the secrets had every chance to leak.
    assert f"{target.base_url}/Users" in output
    assert f"{target.base_url}/ServiceProviderConfig" in output
    assert _lines_with(output, target.token) == []
    assert _lines_with(output, wrong_token) == []
    assert _lines_with(output, redis_client.token.removeprefix("slk_")) == []


async def test_refresh_without_redis(
    embedded_client: Client,
    embedded_deployment: Deployment,
    scim2_server: Scim2Server,
) -> None:
    api = embedded_client.api
    target = scim2_server.tenant()
    _seed(target, 3)
    application_id = await create_application(api, "Acme CRM")

    first_id = await _configure(api, application_id, target)
    first = await wait_for_refresh(api, application_id)
    _seed(target, 2, start=3)
    data = await api(REFRESH, applicationId=application_id)
    second_id = data["refreshProvisioning"]["refreshRun"]["id"]
    second = await wait_for_refresh(api, application_id)

    assert (first["id"], first["status"], first["totalAccounts"]) == (
        first_id,
        "SUCCEEDED",
        3,
    )
    assert data["refreshProvisioning"]["errors"] == []
    assert second_id != first_id
    assert (second["id"], second["status"], second["totalAccounts"]) == (
        second_id,
        "SUCCEEDED",
        5,
    )
    assert (await _accounts(api, application_id))["totalCount"] == 5
    output = embedded_deployment.output()
    assert "In-process job worker started" in output
    summary = f"Refresh {_uuid(second_id)} read 5 accounts and 0 groups"
    assert f"{summary}; 0 accounts drifted." in output
    assert _lines_with(output, target.token) == []
    assert _lines_with(output, embedded_client.token.removeprefix("slk_")) == []


SCHEDULE = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        lastRefreshedAt nextRefreshAt
        lastRefresh { id status totalAccounts }
      }
    }
  }
}
"""


async def _make_due(deployment: Deployment, application_id: str) -> None:
    """Move the application's next refresh into the past, in the deployment's
    own database, as if its interval had gone by."""
    data_dir = Path(deployment.env["SMARTLINK_DATA_DIR"]).resolve()
    url = deployment.env.get(
        "SMARTLINK_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'smartlink.db'}"
    )
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(RefreshSchedule)
                .where(
                    col(RefreshSchedule.application_id)
                    == uuid.UUID(_uuid(application_id))
                )
                .values(next_refresh_at=utcnow())
            )
    finally:
        await engine.dispose()


async def test_scheduled_refresh_over_redis(
    redis_client: Client,
    redis_deployment: Deployment,
    scim2_server: Scim2Server,
) -> None:
    api = redis_client.api
    target = scim2_server.tenant()
    _seed(target, 2)
    application_id = await create_application(api, "Initech CRM")
    await _configure(api, application_id, target)
    first = await wait_for_refresh(api, application_id, timeout=60)
    before = (await api(SCHEDULE, id=application_id))["node"]["provisioning"]
    _seed(target, 1, start=2)

    await _make_due(redis_deployment, application_id)

    deadline = asyncio.get_running_loop().time() + 60
    while True:
        after = (await api(SCHEDULE, id=application_id))["node"]["provisioning"]
        run = after["lastRefresh"]
        if run["id"] != first["id"] and run["status"] in ("SUCCEEDED", "FAILED"):
            break
        assert asyncio.get_running_loop().time() < deadline, f"no refresh: {after}"
        await asyncio.sleep(0.1)

    assert first["status"] == "SUCCEEDED"
    assert (run["status"], run["totalAccounts"]) == ("SUCCEEDED", 3)
    default_interval = timedelta(minutes=60)
    last = datetime.fromisoformat(after["lastRefreshedAt"])
    assert last > datetime.fromisoformat(before["lastRefreshedAt"])
    assert datetime.fromisoformat(after["nextRefreshAt"]) - last == default_interval
    serve, worker = redis_deployment.services
    assert f"Queued scheduled refresh {_uuid(run['id'])}" in serve.output()
    assert f"Refresh {_uuid(run['id'])} read 3 accounts" in worker.output()
