"""Fixtures built on the API client: applications, users, connections, jobs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import pytest

from domain import outbound
from domain.config import get_settings
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import Scim2Server, ScimTenant

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
