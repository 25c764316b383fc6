"""The product side of the benchmark: set-up over GraphQL, grants, measurements.

Settings must be in the environment before this module is imported, because
the fast path creates users with the product's own domain functions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, text
from sqlmodel import select
from strawberry.relay import to_base64

from domain.db import create_engine, session_scope
from domain.folders import create_folder
from domain.models import EventStatus, FolderUser, OutboxEvent
from domain.users import create_user

CREATE_APPLICATION = """
mutation($name: String!) {
  createApplication(input: {name: $name}) { application { id } errors { message } }
}
"""

CONFIGURE = """
mutation($applicationId: ID!, $baseUrl: String!, $token: String) {
  configureProvisioning(
    input: {applicationId: $applicationId, baseUrl: $baseUrl, token: $token}
  ) { provisioning { status } errors { code message } }
}
"""

LAST_REFRESH = """
query($id: ID!) {
  node(id: $id) {
    ... on Application { provisioning { lastRefresh { status error } } }
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

UPDATE_SETTINGS = """
mutation($applicationId: ID!) {
  updateProvisioningSettings(
    input: {applicationId: $applicationId, userGainsAccess: AUTOMATIC}
  ) { settings { userGainsAccess } errors { code message } }
}
"""

GRANT_ACCESS = """
mutation($userId: ID!, $applicationId: ID!) {
  grantAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

GRANT_ACCESS_TO_USERS = """
mutation($userIds: [ID!]!, $applicationId: ID!) {
  grantAccessToUsers(input: {userIds: $userIds, applicationId: $applicationId}) {
    grantedCount errors { code message }
  }
}
"""

#: User ids per grantAccessToUsers call, the API's maximum.
BULK_GRANT_SIZE = 1000

#: Seconds the first refresh, queued by configureProvisioning, may take.
REFRESH_TIMEOUT = 60.0
#: Seconds between two reads of the stub's creation count.
POLL_INTERVAL = 0.05


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL request failed: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, field: str, **variables: Any) -> dict[str, Any]:
        """Run a mutation and return its payload, raising on a UserError."""
        payload: dict[str, Any] = (await self(query, **variables))[field]
        if payload["errors"]:
            raise RuntimeError(f"{field} failed: {payload['errors']}")
        return payload


async def reset_schema(database_url: str) -> None:
    """Drop and recreate the PostgreSQL `public` schema of the bench database."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def set_up_application(
    api: GraphQLClient, base_url: str, token: str, name: str = "Bench"
) -> str:
    """Create an application on the stub with userGainsAccess AUTOMATIC."""
    payload = await api.mutate(CREATE_APPLICATION, "createApplication", name=name)
    application_id: str = payload["application"]["id"]
    await api.mutate(
        CONFIGURE,
        "configureProvisioning",
        applicationId=application_id,
        baseUrl=base_url,
        token=token,
    )
    await _wait_for_refresh(api, application_id)
    await api.mutate(
        UPDATE_SETTINGS, "updateProvisioningSettings", applicationId=application_id
    )
    return application_id


async def _wait_for_refresh(api: GraphQLClient, application_id: str) -> None:
    deadline = time.monotonic() + REFRESH_TIMEOUT
    while time.monotonic() < deadline:
        data = await api(LAST_REFRESH, id=application_id)
        run = data["node"]["provisioning"]["lastRefresh"]
        if run and run["status"] == "SUCCEEDED":
            return
        if run and run["status"] == "FAILED":
            raise RuntimeError(f"The first refresh failed: {run['error']}")
        await asyncio.sleep(0.1)
    raise TimeoutError(f"The first refresh took over {REFRESH_TIMEOUT:.0f} s.")


async def create_users(count: int, prefix: str) -> list[tuple[str, str]]:
    """Create users directly in the database; returns (global id, email) pairs."""
    users = []
    async with session_scope() as session:
        for index in range(count):
            user = await create_user(
                session,
                email=f"{prefix}{index:05d}@example.com",
                given_name="Bench",
                family_name=f"User {index}",
            )
            users.append((to_base64("User", str(user.id)), user.email))
    return users


async def create_folder_with_users(count: int, prefix: str) -> str:
    """Create a folder of `count` new users in the database; returns its global id."""
    async with session_scope() as session:
        folder = await create_folder(session, name=f"{prefix} folder")
        for index in range(count):
            user = await create_user(
                session,
                email=f"{prefix}{index:05d}@example.com",
                given_name="Bench",
                family_name=f"Member {index}",
            )
            session.add(FolderUser(folder_id=folder.id, user_id=user.id))
        return to_base64("Folder", str(folder.id))


@dataclass(frozen=True)
class OneShotGain:
    """Many users gaining access through few mutations: a folder or bulk grants."""

    accounts: int
    #: Seconds the mutations took, from the first request to the last response.
    mutation_seconds: float
    #: Seconds from the last mutation's response (its commit) to the last account.
    seconds: float
    #: Seconds from the first mutation's request to the last account.
    total_seconds: float
    conflicts: int

    @property
    def rate(self) -> float:
        """Accounts per second from the last commit, the outbox pipeline's rate."""
        return self.accounts / self.seconds

    @property
    def total_rate(self) -> float:
        """Accounts per second from the first request, the API's time included."""
        return self.accounts / self.total_seconds


async def measure_folder_gain(
    api: GraphQLClient,
    stub: httpx.AsyncClient,
    tenant: str,
    application_id: str,
    folder_id: str,
    members: int,
    timeout: float,
) -> OneShotGain:
    """Add the application to the folder and time until every member has an account."""

    async def mutate() -> None:
        await api.mutate(
            ADD_APPLICATION_TO_FOLDER,
            "addApplicationToFolder",
            folderId=folder_id,
            applicationId=application_id,
        )

    return await _measure_one_shot(mutate, stub, tenant, members, timeout)


async def measure_bulk_grants(
    api: GraphQLClient,
    stub: httpx.AsyncClient,
    tenant: str,
    application_id: str,
    users: list[tuple[str, str]],
    timeout: float,
) -> OneShotGain:
    """Grant the users access with grantAccessToUsers calls of `BULK_GRANT_SIZE`,
    one after another, and time until every user has an account."""

    async def mutate() -> None:
        for start in range(0, len(users), BULK_GRANT_SIZE):
            chunk = [
                user_id for user_id, _email in users[start : start + BULK_GRANT_SIZE]
            ]
            await api.mutate(
                GRANT_ACCESS_TO_USERS,
                "grantAccessToUsers",
                userIds=chunk,
                applicationId=application_id,
            )

    return await _measure_one_shot(mutate, stub, tenant, len(users), timeout)


async def _measure_one_shot(
    mutate: Callable[[], Awaitable[None]],
    stub: httpx.AsyncClient,
    tenant: str,
    expected: int,
    timeout: float,
) -> OneShotGain:
    started = time.time()
    await mutate()
    committed = time.time()
    stats = await _wait_for_accounts(stub, tenant, expected, timeout)
    return OneShotGain(
        accounts=stats["count"],
        mutation_seconds=committed - started,
        seconds=stats["last"] - committed,
        total_seconds=stats["last"] - started,
        conflicts=stats["conflicts"],
    )


async def _wait_for_accounts(
    stub: httpx.AsyncClient, tenant: str, expected: int, timeout: float
) -> dict[str, Any]:
    """Poll the stub until the tenant has `expected` accounts; returns its stats."""
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = (await stub.get(f"/_bench/{tenant}/stats")).json()
        if stats["count"] >= expected:
            return stats
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Only {stats['count']} of {expected} accounts reached the stub "
                f"within {timeout:.0f} s."
            )
        await asyncio.sleep(POLL_INTERVAL)


@dataclass(frozen=True)
class Throughput:
    accounts: int
    #: Seconds from sending the first grant to the last account's creation.
    seconds: float
    #: Seconds the API took to respond to all the grants.
    grant_seconds: float
    conflicts: int

    @property
    def rate(self) -> float:
        return self.accounts / self.seconds

    @property
    def grant_rate(self) -> float:
        return self.accounts / self.grant_seconds


async def measure_throughput(
    api: GraphQLClient,
    stub: httpx.AsyncClient,
    tenant: str,
    application_id: str,
    users: list[tuple[str, str]],
    concurrency: int,
    timeout: float,
) -> Throughput:
    """Grant every user access at once and time until the stub has all accounts."""
    pending = list(reversed(users))

    async def granter() -> None:
        while pending:
            user_id, _email = pending.pop()
            await api.mutate(
                GRANT_ACCESS,
                "grantAccess",
                userId=user_id,
                applicationId=application_id,
            )

    started = time.time()
    async with asyncio.timeout(timeout), asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(granter())
    granted = time.time()

    stats = await _wait_for_accounts(stub, tenant, len(users), timeout)
    return Throughput(
        accounts=stats["count"],
        seconds=stats["last"] - started,
        grant_seconds=granted - started,
        conflicts=stats["conflicts"],
    )


async def measure_latencies(
    api: GraphQLClient,
    stub: httpx.AsyncClient,
    tenant: str,
    application_id: str,
    users: list[tuple[str, str]],
    gap: float,
    timeout: float,
) -> list[float]:
    """Grant users one at a time; each latency runs from the grant's response
    to the account's creation in the stub."""
    latencies = []
    for user_id, email in users:
        await api.mutate(
            GRANT_ACCESS, "grantAccess", userId=user_id, applicationId=application_id
        )
        answered = time.time()
        response = await stub.get(
            f"/_bench/{tenant}/wait",
            params={"userName": email, "timeout": timeout},
            timeout=timeout + 5,
        )
        if response.status_code != 200:
            raise TimeoutError(f"No account for {email} within {timeout:.0f} s.")
        latencies.append(response.json()["created"] - answered)
        await asyncio.sleep(gap)
    return latencies


async def outbox_counts() -> dict[str, int]:
    """Count the outbox events by status."""
    async with session_scope() as session:
        statement = select(OutboxEvent.status, func.count()).group_by(
            OutboxEvent.status
        )
        rows = await session.exec(statement)
        return {EventStatus(status).value: count for status, count in rows}


async def database_sessions() -> int:
    """Sessions PostgreSQL has opened on this database so far (PostgreSQL 14+).

    The statistics lag by up to a second, so compare readings far apart.
    """
    async with session_scope() as session:
        statement = text(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
        return int((await session.exec(statement)).one()[0])  # type: ignore[call-overload]
