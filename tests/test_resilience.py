"""Automatic provisioning through crashes and outages, with real processes.

Each test runs `smartlink serve` and `smartlink worker` against a private
`redis-server`, so it can kill, stop or freeze Redis without touching the
machine's shared one. Each then counts the accounts in the target: every
granted user must have exactly one, and every outbox event must end DONE.

These tests are slow (tens of seconds each); `-m "not slow"` skips them.
`SMARTLINK_TEST_REDIS_OUTAGE` sets how many seconds Redis stays stopped in the
outage test (default 10; the product must also survive 60).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.deployment import Client, Deployment, deploy, deployment_client
from tests.support.fake_scim import FakeResponse, FakeScim, RecordedRequest
from tests.support.fixtures import (
    CONFIGURE,
    create_application,
    create_user,
    grant_access,
    update_settings,
    wait_for_refresh,
)
from tests.support.graphql import GraphQLClient
from tests.support.redis_server import RedisServer
from tests.support.scim2_server import Scim2Server, ScimTenant

pytestmark = pytest.mark.slow

logger = logging.getLogger(__name__)

#: Seconds Redis stays stopped in the outage test.
REDIS_OUTAGE = float(os.environ.get("SMARTLINK_TEST_REDIS_OUTAGE", "10"))

#: Concurrent API requests of the test's script when it grants many users.
SCRIPT_CONCURRENCY = 8

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

OPEN_TICKETS = """
query { tickets(status: OPEN) { edges { node { action message } } } }
"""


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer.start(tmp_path / "redis.log")
    yield server
    server.stop()


@pytest.fixture
def worker_args() -> tuple[str, ...]:
    """Arguments of `smartlink` for the worker; empty runs the default worker."""
    return ()


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_server: RedisServer,
    worker_args: tuple[str, ...],
) -> Deployment:
    return deploy(
        tmp_path,
        request.addfinalizer,
        worker_args=worker_args,
        SMARTLINK_REDIS_URL=redis_server.url(),
    )


@pytest.fixture
async def client(deployment: Deployment) -> AsyncIterator[Client]:
    async for client in deployment_client(deployment, insert_token=True):
        yield client


async def _automatic_application(
    api: GraphQLClient, base_url: str, token: str, **settings: Any
) -> str:
    """Create an application connected to the target, in AUTOMATIC gain mode."""
    application_id = await create_application(api, "Acme CRM")
    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=base_url, token=token
    )
    assert data["configureProvisioning"]["errors"] == []
    run = await wait_for_refresh(api, application_id, timeout=60)
    assert run["status"] == "SUCCEEDED", run
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC", **settings)
    return application_id


async def _in_parallel(
    calls: list[Callable[[], Awaitable[None]]], limit: int = SCRIPT_CONCURRENCY
) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def bounded(call: Callable[[], Awaitable[None]]) -> None:
        async with semaphore:
            await call()

    await asyncio.gather(*(bounded(call) for call in calls))


async def _create_users(api: GraphQLClient, count: int, start: int = 0) -> list[str]:
    user_ids: dict[int, str] = {}

    async def create(number: int) -> None:
        user_ids[number] = await create_user(api, f"user{number:04}@example.org")

    await _in_parallel(
        [functools.partial(create, n) for n in range(start, start + count)]
    )
    return [user_ids[n] for n in sorted(user_ids)]


async def _grant_all(
    api: GraphQLClient, application_id: str, user_ids: list[str]
) -> None:
    await _in_parallel(
        [functools.partial(grant_access, api, u, application_id) for u in user_ids]
    )


async def _wait_for(
    condition: Callable[[], Awaitable[bool]], timeout: float, what: str
) -> float:
    """Poll `condition` every half second; returns the seconds it took to hold."""
    started = time.monotonic()
    while not await condition():
        waited = time.monotonic() - started
        assert waited < timeout, f"timed out after {waited:.0f} s waiting for {what}"
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def _wait_for_accounts(
    deployment: Deployment, count: Callable[[], int], expected: int, timeout: float
) -> float:
    """Wait until the target contains `expected` accounts and the outbox is
    done; returns the seconds it took."""

    async def settled() -> bool:
        if await asyncio.to_thread(count) < expected:
            return False
        statuses = await deployment.event_statuses()
        return set(statuses) == {"DONE"}

    return await _wait_for(settled, timeout, f"{expected} accounts")


async def _assert_exactly(
    deployment: Deployment, target: ScimTenant, expected: int
) -> None:
    """Assert one account per granted user, and every event DONE."""
    users = target.users()
    user_names = [user["userName"] for user in users]
    assert len(users) == expected
    assert len(set(user_names)) == expected
    assert await deployment.event_statuses() == {"DONE": expected}


async def test_worker_killed_mid_batch(
    client: Client, deployment: Deployment, scim2_server: Scim2Server
) -> None:
    target = scim2_server.tenant()
    api = client.api
    application_id = await _automatic_application(api, target.base_url, target.token)
    user_ids = await _create_users(api, 500)
    await _grant_all(api, application_id, user_ids)

    await _wait_for(
        lambda: asyncio.to_thread(lambda: target.user_count() >= 100),
        timeout=120,
        what="the first 100 accounts",
    )
    deployment.kill_worker()
    created_before_restart = target.user_count()
    deployment.start_worker()
    took = await _wait_for_accounts(deployment, target.user_count, 500, timeout=120)

    logger.info(
        "%d accounts before the restart; all 500 %.1f s after it",
        created_before_restart,
        took,
    )
    assert created_before_restart < 500
    await _assert_exactly(deployment, target, 500)


async def test_redis_killed_mid_batch(
    client: Client,
    deployment: Deployment,
    redis_server: RedisServer,
    scim2_server: Scim2Server,
) -> None:
    target = scim2_server.tenant()
    api = client.api
    application_id = await _automatic_application(api, target.base_url, target.token)
    user_ids = await _create_users(api, 100)
    await _grant_all(api, application_id, user_ids[:40])
    await _wait_for(
        lambda: asyncio.to_thread(lambda: target.user_count() >= 10),
        timeout=60,
        what="the first 10 accounts",
    )

    grants = asyncio.create_task(_grant_all(api, application_id, user_ids[40:]))
    redis_server.kill()
    await asyncio.sleep(2)
    redis_server.restart()
    await grants
    took = await _wait_for_accounts(deployment, target.user_count, 100, timeout=150)

    logger.info("all 100 accounts %.1f s after the grants ended", took)
    await _assert_exactly(deployment, target, 100)


async def test_redis_stopped_during_grants(
    client: Client,
    deployment: Deployment,
    redis_server: RedisServer,
    scim2_server: Scim2Server,
) -> None:
    target = scim2_server.tenant()
    api = client.api
    application_id = await _automatic_application(api, target.base_url, target.token)
    user_ids = await _create_users(api, 60)
    await _grant_all(api, application_id, user_ids[:20])

    redis_server.kill()
    stopped_at = time.monotonic()
    await _grant_all(api, application_id, user_ids[20:])
    during_outage = target.user_count()
    await asyncio.sleep(max(0.0, REDIS_OUTAGE - (time.monotonic() - stopped_at)))
    redis_server.restart()
    took = await _wait_for_accounts(deployment, target.user_count, 60, timeout=150)

    logger.info(
        "Redis stopped for %.0f s; %d accounts during the outage; all 60 %.1f s "
        "after the restart",
        REDIS_OUTAGE,
        during_outage,
        took,
    )
    assert during_outage <= 20
    await _assert_exactly(deployment, target, 60)


async def test_frozen_redis_keeps_api_fast(
    client: Client,
    deployment: Deployment,
    redis_server: RedisServer,
    scim2_server: Scim2Server,
) -> None:
    target = scim2_server.tenant()
    api = client.api
    application_id = await _automatic_application(api, target.base_url, target.token)
    user_ids = await _create_users(api, 30)

    redis_server.pause()
    durations = []
    try:
        for user_id in user_ids:
            started = time.monotonic()
            await grant_access(api, user_id, application_id)
            durations.append(time.monotonic() - started)
            # Spread the grants, so the relay tries Redis between them.
            await asyncio.sleep(0.2)
    finally:
        redis_server.resume()
    took = await _wait_for_accounts(deployment, target.user_count, 30, timeout=150)

    logger.info(
        "slowest grantAccess while Redis was frozen: %.3f s; all 30 accounts "
        "%.1f s after SIGCONT",
        max(durations),
        took,
    )
    assert len(durations) == 30
    assert max(durations) < 1.0
    await _assert_exactly(deployment, target, 30)


def _user_name(request: RecordedRequest) -> str | None:
    """Return the userName a request to /Users is about, from its body or filter."""
    if isinstance(request.json, dict) and "userName" in request.json:
        return str(request.json["userName"])
    expression = request.params.get("filter", "")
    if expression.startswith("userName eq "):
        return expression.removeprefix("userName eq ").strip('"')
    return None


def _early_retries(fake: FakeScim) -> list[str]:
    """Describe each request that came sooner than a `Retry-After` requested."""
    problems = []
    for faulted, response in list(fake.faults):
        user_name = _user_name(faulted)
        requested = float(response.headers["Retry-After"])
        later = [
            r
            for r in fake.requests
            if r.received_at > faulted.received_at and _user_name(r) == user_name
        ]
        if later and later[0].received_at - faulted.received_at < requested:
            waited = later[0].received_at - faulted.received_at
            problems.append(
                f"{user_name}: retried after {waited:.2f} s, but Retry-After "
                f"requested {requested:.0f} s"
            )
    return problems


async def test_failing_target_gets_every_account(
    client: Client, deployment: Deployment, fake_scim: FakeScim
) -> None:
    api = client.api
    application_id = await _automatic_application(
        api, fake_scim.base_url, fake_scim.token or ""
    )
    unavailable = FakeResponse.scim_error(503, "Down for maintenance.")
    unavailable.headers["Retry-After"] = "1"
    too_many = FakeResponse.scim_error(429, "Too many requests.")
    too_many.headers["Retry-After"] = "2"
    fake_scim.inject_at_random("/Users", [unavailable, too_many], chance=0.3, seed=4)
    user_ids = await _create_users(api, 40)
    await _grant_all(api, application_id, user_ids)

    def count() -> int:
        return len(fake_scim.users.resources)

    took = await _wait_for_accounts(deployment, count, 40, timeout=150)

    faulted_statuses = sorted({response.status for _, response in fake_scim.faults})
    logger.info(
        "%d faults injected; all 40 accounts after %.1f s", len(fake_scim.faults), took
    )
    assert faulted_statuses == [429, 503]
    assert len(fake_scim.faults) >= 10
    assert _early_retries(fake_scim) == []
    user_names = [user["userName"] for user in fake_scim.users.resources]
    assert len(user_names) == 40
    assert len(set(user_names)) == 40
    assert await deployment.event_statuses() == {"DONE": 40}


# Two processes of four threads remove accounts at the same time.
@pytest.mark.parametrize(
    "worker_args", [("worker", "--processes", "2", "--threads", "4")]
)
async def test_guard_holds_concurrent_removals(
    client: Client, deployment: Deployment, scim2_server: Scim2Server
) -> None:
    target = scim2_server.tenant()
    api = client.api
    application_id = await _automatic_application(
        api,
        target.base_url,
        target.token,
        userLosesAccess="AUTOMATIC",
        deprovisionAction="DELETE",
        massDeprovisionThreshold=5,
        massDeprovisionWindowMinutes=60,
    )
    user_ids = await _create_users(api, 40)
    await _grant_all(api, application_id, user_ids)
    await _wait_for_accounts(deployment, target.user_count, 40, timeout=120)

    async def revoke(user_id: str) -> None:
        data = await api(REVOKE, userId=user_id, applicationId=application_id)
        assert data["revokeAccess"]["errors"] == []

    await _in_parallel([functools.partial(revoke, u) for u in user_ids])

    async def removals_settled() -> bool:
        statuses = await deployment.event_statuses()
        return not {"PENDING", "ENQUEUED", "RUNNING"} & set(statuses)

    await _wait_for(removals_settled, timeout=120, what="the removals")
    tickets = [e["node"] for e in (await api(OPEN_TICKETS))["tickets"]["edges"]]

    assert target.user_count() == 35
    assert await deployment.event_statuses() == {"DONE": 45, "HELD": 35}
    assert [ticket["action"] for ticket in tickets] == ["RELEASE_HELD"]
    held_removals = int(tickets[0]["message"].split()[0])
    assert held_removals == 35
