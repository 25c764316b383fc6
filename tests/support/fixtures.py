"""Fixtures built on the API client: applications, users, connections, jobs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import pytest
from strawberry import relay

from domain import outbound
from domain.config import get_settings
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import Scim2Server, ScimTenant
from tests.support.scimmy_server import ScimmyServer

CREATE_APPLICATION = """
mutation($name: String!) {
  createApplication(input: {name: $name}) {
    application { id name } errors { code message }
  }
}
"""

CREATE_USER = """
mutation($email: String!, $givenName: String, $familyName: String) {
  createUser(input: {email: $email, givenName: $givenName, familyName: $familyName}) {
    user { id email } errors { code message field }
  }
}
"""

GRANT_ACCESS = """
mutation($userId: ID!, $applicationId: ID!) {
  grantAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

CONFIGURE = """
mutation($applicationId: ID!, $baseUrl: String!, $token: String) {
  configureProvisioning(
    input: {applicationId: $applicationId, baseUrl: $baseUrl, token: $token}
  ) {
    provisioning { status connection { baseUrl tokenConfigured lastError } }
    refreshRun { id status }
    errors { code message field }
  }
}
"""

CREATE_FOLDER = """
mutation($name: String!) {
  createFolder(input: {name: $name}) { folder { id } errors { code message } }
}
"""

ADD_USER_TO_FOLDER = """
mutation($folderId: ID!, $userId: ID!) {
  addUserToFolder(input: {folderId: $folderId, userId: $userId}) {
    errors { code message }
  }
}
"""

ADD_APPLICATION_TO_FOLDER = """
mutation($folderId: ID!, $applicationId: ID!) {
  addApplicationToFolder(input: {folderId: $folderId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

REFRESH = """
mutation($applicationId: ID!) {
  refreshProvisioning(input: {applicationId: $applicationId}) {
    refreshRun { id } errors { code message }
  }
}
"""

REFRESH_RUN = """
query($id: ID!) {
  node(id: $id) { ... on RefreshRun { id status error } }
}
"""

ACCOUNT_IDS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { accounts(first: 100) { edges { node { id userName } } } }
    }
  }
}
"""

GROUP_IDS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { groups(first: 100) { edges { node { id displayName } } } }
    }
  }
}
"""

OPERATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations(first: 100) {
          edges {
            node {
              action status trigger scimId attempts targetStatus error detail
              user { email } folder { name }
            }
          }
        }
      }
    }
  }
}
"""

LAST_REFRESH = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        lastRefresh {
          id status accountsRead groupsRead totalAccounts totalGroups complete error
        }
      }
    }
  }
}
"""


@pytest.fixture(scope="session")
def job_worker() -> Iterator[None]:
    """The in-process Dramatiq worker, as `smartlink serve` runs it without Redis."""
    from jobs.inprocess import start_worker, stop_worker

    worker = start_worker()
    yield
    stop_worker(worker)


@pytest.fixture
def scim_target(scim2_server: Scim2Server) -> ScimTenant:
    return scim2_server.tenant()


TARGETS = ("scim2-server", "scimmy")


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> ScimTenant:
    """An empty tenant of each real SCIM target in turn."""
    fixture = "scim2_server" if request.param == "scim2-server" else "scimmy_server"
    server: Scim2Server | ScimmyServer = request.getfixturevalue(fixture)
    return server.tenant()


@pytest.fixture(params=TARGETS)
def unique_names_target(request: pytest.FixtureRequest) -> ScimTenant:
    """A tenant of each target, both rejecting a duplicate group name with 409."""
    fixture = (
        "unique_group_names_server"
        if request.param == "scim2-server"
        else "scimmy_server"
    )
    server: Scim2Server | ScimmyServer = request.getfixturevalue(fixture)
    return server.tenant()


@pytest.fixture
def put_only_target(put_only_server: Scim2Server) -> ScimTenant:
    """A tenant of scim2-server announcing `patch.supported: false`."""
    return put_only_server.tenant()


async def create_application(api: GraphQLClient, name: str = "Acme CRM") -> str:
    data = await api(CREATE_APPLICATION, name=name)
    assert data["createApplication"]["errors"] == []
    application_id: str = data["createApplication"]["application"]["id"]
    return application_id


async def create_user(api: GraphQLClient, email: str, **names: str) -> str:
    data = await api(CREATE_USER, email=email, **names)
    assert data["createUser"]["errors"] == []
    user_id: str = data["createUser"]["user"]["id"]
    return user_id


async def grant_access(api: GraphQLClient, user_id: str, application_id: str) -> None:
    data = await api(GRANT_ACCESS, userId=user_id, applicationId=application_id)
    assert data["grantAccess"]["errors"] == []


async def wait_for_refresh(
    api: GraphQLClient, application_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll `lastRefresh` until it ends, and return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        data = await api(LAST_REFRESH, id=application_id)
        run: dict[str, Any] = data["node"]["provisioning"]["lastRefresh"]
        if run and run["status"] in ("SUCCEEDED", "FAILED"):
            return run
        assert asyncio.get_running_loop().time() < deadline, f"refresh still {run}"
        await asyncio.sleep(0.05)


async def connect(
    api: GraphQLClient, application_id: str, target: ScimTenant
) -> dict[str, Any]:
    """Configure the application against `target` and wait for the first refresh."""
    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=target.base_url,
        token=target.token,
    )
    assert data["configureProvisioning"]["errors"] == []
    return await wait_for_refresh(api, application_id)


CREATE_ACCOUNT = """
mutation($applicationId: ID!, $userId: ID!) {
  createAccount(input: {applicationId: $applicationId, userId: $userId}) {
    account { id scimId userName externalId user { id email } }
    errors { code message field }
  }
}
"""


def node_uuid(global_id: str) -> str:
    """Return the database UUID inside a Relay global id, as the domain stores it."""
    return relay.GlobalID.from_id(global_id).node_id


async def create_account(
    api: GraphQLClient, application_id: str, user_id: str
) -> dict[str, Any]:
    """Run createAccount, expecting no error, and return the linked account."""
    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)
    assert data["createAccount"]["errors"] == []
    account: dict[str, Any] = data["createAccount"]["account"]
    return account


@pytest.fixture
async def automation(job_worker: None) -> AsyncIterator[None]:
    """The outbox relay of `smartlink serve`, in the test's event loop."""
    from jobs import relay

    relay.current = relay.Relay()
    relay.current.start()
    yield
    await relay.current.stop()
    relay.current = None


UPDATE_SETTINGS = """
mutation($input: UpdateProvisioningSettingsInput!) {
  updateProvisioningSettings(input: $input) {
    settings {
      userGainsAccess userLosesAccess userDeactivated userUpdated
      deprovisionAction massDeprovisionThreshold massDeprovisionWindowMinutes
    }
    errors { code message field }
  }
}
"""


async def update_settings(
    api: GraphQLClient, application_id: str, **settings: Any
) -> dict[str, Any]:
    data = await api(
        UPDATE_SETTINGS, input={"applicationId": application_id, **settings}
    )
    payload: dict[str, Any] = data["updateProvisioningSettings"]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = ""
) -> None:
    """Poll `condition` until it holds, failing after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.05)


async def outbox_settled() -> bool:
    """Whether every automatic event has finished (done, failed, held or cancelled)."""
    from sqlmodel import col, select

    from domain.db import session_scope
    from domain.models import EventStatus, OutboxEvent

    busy = (EventStatus.PENDING, EventStatus.ENQUEUED, EventStatus.RUNNING)
    async with session_scope() as session:
        statement = select(OutboxEvent.id).where(col(OutboxEvent.status).in_(busy))
        return (await session.exec(statement)).first() is None


async def refresh(
    api: GraphQLClient, application_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Re-read the target into the mirror, and return the finished run."""
    data = await api(REFRESH, applicationId=application_id)
    assert data["refreshProvisioning"]["errors"] == []
    run_id = data["refreshProvisioning"]["refreshRun"]["id"]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run: dict[str, Any] = (await api(REFRESH_RUN, id=run_id))["node"]
        if run["status"] in ("SUCCEEDED", "FAILED"):
            return run
        assert asyncio.get_running_loop().time() < deadline, f"refresh still {run}"
        await asyncio.sleep(0.05)


async def create_folder(api: GraphQLClient, name: str) -> str:
    data = await api(CREATE_FOLDER, name=name)
    assert data["createFolder"]["errors"] == []
    folder_id: str = data["createFolder"]["folder"]["id"]
    return folder_id


async def add_user_to_folder(api: GraphQLClient, folder_id: str, user_id: str) -> None:
    data = await api(ADD_USER_TO_FOLDER, folderId=folder_id, userId=user_id)
    assert data["addUserToFolder"]["errors"] == []


async def add_application_to_folder(
    api: GraphQLClient, folder_id: str, application_id: str
) -> None:
    data = await api(
        ADD_APPLICATION_TO_FOLDER, folderId=folder_id, applicationId=application_id
    )
    assert data["addApplicationToFolder"]["errors"] == []


async def account_ids(api: GraphQLClient, application_id: str) -> dict[str, str]:
    """Return the global ids of the mirrored accounts, by userName."""
    data = await api(ACCOUNT_IDS, id=application_id)
    edges = data["node"]["provisioning"]["accounts"]["edges"]
    return {edge["node"]["userName"]: edge["node"]["id"] for edge in edges}


async def group_ids(api: GraphQLClient, application_id: str) -> dict[str, str]:
    """Return the global ids of the mirrored groups, by displayName."""
    data = await api(GROUP_IDS, id=application_id)
    edges = data["node"]["provisioning"]["groups"]["edges"]
    return {edge["node"]["displayName"]: edge["node"]["id"] for edge in edges}


async def operations(api: GraphQLClient, application_id: str) -> list[dict[str, Any]]:
    """Return the application's provisioning log, newest first."""
    data = await api(OPERATIONS, id=application_id)
    edges = data["node"]["provisioning"]["operations"]["edges"]
    return [edge["node"] for edge in edges]


@dataclass
class FakeDNS:
    """Scripted answers for host names, so no test sends a DNS query.

    Each host has a list of answers used one lookup after another, the last
    one repeating. IP literals resolve to themselves; other names fail as
    unknown.
    """

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def add(self, host: str, *answers: list[str]) -> None:
        self.answers[host] = list(answers)

    async def resolve(self, host: str, port: int) -> list[outbound.IPAddress]:
        self.lookups.append(host)
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        answers = self.answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ipaddress.ip_address(address) for address in answer]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    """Replace the resolver of the outbound rules and of the SCIM transport."""
    dns = FakeDNS()
    monkeypatch.setattr(outbound, "resolve_host", dns.resolve)
    return dns


def allow_outbound(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Set `SMARTLINK_OUTBOUND_ALLOW` for the rest of the test."""
    monkeypatch.setattr(get_settings(), "outbound_allow", value)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every TCP connection the SCIM transport opens, and refuse any
    that does not go to loopback, so a broken guard cannot reach the network."""
    opened: list[str] = []
    connect_tcp = httpcore.AnyIOBackend.connect_tcp

    async def recording(
        self: httpcore.AnyIOBackend, host: str, port: int, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        opened.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise httpcore.ConnectError(f"test refused to connect to {host}")
        return await connect_tcp(self, host, port, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", recording)
    yield opened
