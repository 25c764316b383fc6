"""Scheduled refreshes: the interval setting, the scheduler's pass, the lease."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from domain.config import get_settings
from domain.db import session_scope
from domain.models import RefreshRun, RefreshSchedule, RefreshStatus
from domain.models.columns import utcnow
from domain.provisioning import refresh as refresh_module
from domain.provisioning.refresh import request_refresh, run_refresh
from domain.provisioning.schedule import LEASE_DURATION, renew_lease, take_lease
from domain.provisioning.scheduler import queue_due_refreshes
from jobs.refresh import enqueue_refresh
from tests.support.fixtures import (
    UPDATE_SETTINGS,
    connect,
    create_application,
    node_uuid,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

SCHEDULE = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        settings { refreshInterval }
        lastRefreshedAt nextRefreshAt
        lastRefresh { id status error }
        accounts(first: 10) { totalCount }
      }
    }
  }
}
"""


async def _schedule(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    data = await api(SCHEDULE, id=application_id)
    provisioning: dict[str, Any] = data["node"]["provisioning"]
    return provisioning


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _runs(application_id: str) -> list[RefreshRun]:
    async with session_scope() as session:
        statement = (
            select(RefreshRun)
            .where(RefreshRun.application_id == uuid.UUID(node_uuid(application_id)))
            .order_by(col(RefreshRun.created_at))
        )
        return list(await session.exec(statement))


async def _all_finished(application_id: str) -> bool:
    runs = await _runs(application_id)
    return all(
        run.status in (RefreshStatus.SUCCEEDED, RefreshStatus.FAILED) for run in runs
    )


async def _connected(
    api: GraphQLClient, target: ScimTenant, interval: int | None = 5
) -> str:
    application_id = await create_application(api)
    await update_settings(api, application_id, refreshInterval=interval)
    run = await connect(api, application_id, target)
    assert run["status"] == "SUCCEEDED"
    return application_id


async def test_interval_off_in_tests(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    provisioning = await _schedule(api, application_id)

    assert get_settings().default_refresh_interval == 0
    assert provisioning["settings"]["refreshInterval"] is None
    assert provisioning["nextRefreshAt"] is None
    assert provisioning["lastRefreshedAt"] is None


async def test_new_application_gets_default(
    api: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "default_refresh_interval", 60)
    application_id = await create_application(api)

    before = await _schedule(api, application_id)
    await update_settings(api, application_id, dryRun=False)
    after = await _schedule(api, application_id)

    assert before["settings"]["refreshInterval"] == 60
    assert after["settings"]["refreshInterval"] == 60


async def test_interval_turned_off_on_first_save(
    api: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "default_refresh_interval", 60)
    application_id = await create_application(api)

    data = await api(
        UPDATE_SETTINGS,
        input={"applicationId": application_id, "refreshInterval": None},
    )
    saved = await _schedule(api, application_id)

    assert data["updateProvisioningSettings"]["errors"] == []
    assert saved["settings"]["refreshInterval"] is None
    assert saved["nextRefreshAt"] is None


@pytest.mark.parametrize("minutes", [0, -5, 43_201])
async def test_interval_out_of_range_rejected(api: GraphQLClient, minutes: int) -> None:
    application_id = await create_application(api)

    data = await api(
        UPDATE_SETTINGS,
        input={"applicationId": application_id, "refreshInterval": minutes},
    )

    [error] = data["updateProvisioningSettings"]["errors"]
    assert error["code"] == "INVALID"
    assert error["field"] == ["refreshInterval"]
    assert f"is {minutes}" in error["message"]


async def test_interval_kept_when_left_out(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    await update_settings(api, application_id, refreshInterval=15)

    await update_settings(api, application_id, userGainsAccess="NOTIFICATION")
    unchanged = await _schedule(api, application_id)
    await update_settings(api, application_id, refreshInterval=None)
    cleared = await _schedule(api, application_id)

    assert unchanged["settings"]["refreshInterval"] == 15
    assert cleared["settings"]["refreshInterval"] is None


async def test_next_refresh_counts_from_last(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _connected(api, scim_target, interval=5)

    first = await _schedule(api, application_id)
    await update_settings(api, application_id, refreshInterval=30)
    changed = await _schedule(api, application_id)
    await update_settings(api, application_id, refreshInterval=None)
    off = await _schedule(api, application_id)

    last = _moment(first["lastRefreshedAt"])
    assert _moment(first["nextRefreshAt"]) - last == timedelta(minutes=5)
    assert _moment(changed["nextRefreshAt"]) - last == timedelta(minutes=30)
    assert off["nextRefreshAt"] is None
    assert off["lastRefreshedAt"] == first["lastRefreshedAt"]


async def test_refresh_runs_when_due(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _connected(api, scim_target, interval=5)
    before = await _schedule(api, application_id)
    due_at = _moment(before["nextRefreshAt"])
    scim_target.create_user("new@example.org")

    early = await queue_due_refreshes(now=due_at - timedelta(seconds=1))
    queued = await queue_due_refreshes(
        now=due_at + timedelta(seconds=1), send=enqueue_refresh
    )
    await wait_until(lambda: _all_finished(application_id), what="scheduled refresh")

    after = await _schedule(api, application_id)
    assert early == []
    assert len(queued) == 1
    assert after["lastRefresh"]["id"] != before["lastRefresh"]["id"]
    assert after["lastRefresh"]["status"] == "SUCCEEDED"
    assert after["accounts"]["totalCount"] == 1
    last = _moment(after["lastRefreshedAt"])
    assert last > _moment(before["lastRefreshedAt"])
    assert _moment(after["nextRefreshAt"]) - last == timedelta(minutes=5)


async def test_interval_off_never_queues(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _connected(api, scim_target, interval=None)

    queued = await queue_due_refreshes(now=utcnow() + timedelta(days=365))

    assert queued == []
    assert len(await _runs(application_id)) == 1
    assert (await _schedule(api, application_id))["nextRefreshAt"] is None


async def test_application_without_schedule_row(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    """An application connected before scheduling existed has no row, so the
    scheduler gives it one and queues a refresh."""
    application_id = await _connected(api, scim_target, interval=5)
    async with session_scope() as session:
        schedule = await session.get(
            RefreshSchedule, uuid.UUID(node_uuid(application_id))
        )
        await session.delete(schedule)

    queued = await queue_due_refreshes()

    assert len(queued) == 1
    after = await _schedule(api, application_id)
    assert after["lastRefresh"]["status"] == "QUEUED"


async def test_concurrent_scheduler_passes_queue_one(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _connected(api, scim_target, interval=5)
    later = utcnow() + timedelta(minutes=10)

    passes = await asyncio.gather(*(queue_due_refreshes(now=later) for _ in range(3)))

    assert sorted(len(run_ids) for run_ids in passes) == [0, 0, 1]
    assert len(await _runs(application_id)) == 2


async def test_scheduler_coalesces_with_manual_refresh(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _connected(api, scim_target, interval=5)
    decoded = uuid.UUID(node_uuid(application_id))
    async with session_scope() as session:
        manual, is_new = await request_refresh(session, decoded)
    assert is_new

    queued = await queue_due_refreshes(now=utcnow() + timedelta(minutes=10))

    assert queued == []
    runs = await _runs(application_id)
    assert [run.id for run in runs if run.status is RefreshStatus.QUEUED] == [manual.id]


async def test_two_runs_never_overlap(
    api: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two queued runs of one application, started together: one reads the
    target, and the other ends without reading it."""
    application_id = await _connected(api, scim_target, interval=5)
    decoded = uuid.UUID(node_uuid(application_id))
    async with session_scope() as session:
        first = RefreshRun(application_id=decoded)
        second = RefreshRun(application_id=decoded)
        session.add_all([first, second])
    reading = 0
    max_reading = 0
    read_target = refresh_module._read_target

    async def counted(run: RefreshRun) -> Any:
        nonlocal reading, max_reading
        reading += 1
        max_reading = max(max_reading, reading)
        try:
            # Long enough for the other run to try to start meanwhile.
            await asyncio.sleep(0.5)
            return await read_target(run)
        finally:
            reading -= 1

    monkeypatch.setattr(refresh_module, "_read_target", counted)

    statuses = await asyncio.gather(run_refresh(first.id), run_refresh(second.id))

    assert max_reading == 1
    assert statuses.count(RefreshStatus.SUCCEEDED) == 1
    assert statuses.count(None) == 1
    runs = {run.id: run for run in await _runs(application_id)}
    skipped = [runs[first.id], runs[second.id]]
    [failed] = [run for run in skipped if run.status is RefreshStatus.FAILED]
    assert failed.error is not None
    assert "still running" in failed.error
    async with session_scope() as session:
        schedule = await session.get(RefreshSchedule, decoded)
    assert schedule is not None
    assert schedule.lease_run_id is None


async def test_lapsed_lease_passes_to_next_run(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    """A run whose process died keeps the lease only until it lapses, and then
    cannot write the mirror any more."""
    application_id = await _connected(api, scim_target, interval=5)
    decoded = uuid.UUID(node_uuid(application_id))
    dead, live = uuid.uuid4(), uuid.uuid4()
    now = utcnow()

    async with session_scope() as session:
        assert await take_lease(session, decoded, dead, now=now) is None
    async with session_scope() as session:
        holder = await take_lease(
            session, decoded, live, now=now + timedelta(seconds=1)
        )
    async with session_scope() as session:
        takeover_holder = await take_lease(
            session, decoded, live, now=now + LEASE_DURATION + timedelta(seconds=1)
        )
    async with session_scope() as session:
        dead_renewed = await renew_lease(session, decoded, dead)
        live_renewed = await renew_lease(session, decoded, live)

    assert holder == dead
    assert takeover_holder is None
    assert dead_renewed is False
    assert live_renewed is True


async def test_run_that_lost_lease_keeps_mirror(
    api: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run whose lease went to another run while it read the target leaves
    the mirror to that run."""
    application_id = await _connected(api, scim_target, interval=5)
    decoded = uuid.UUID(node_uuid(application_id))
    scim_target.create_user("late@example.org")
    async with session_scope() as session:
        run = RefreshRun(application_id=decoded)
        session.add(run)
    read_target = refresh_module._read_target

    async def read_then_lose_lease(reading: RefreshRun) -> Any:
        listings = await read_target(reading)
        async with session_scope() as session:
            schedule = await session.get(RefreshSchedule, decoded)
            assert schedule is not None
            schedule.lease_run_id = uuid.uuid4()
        return listings

    monkeypatch.setattr(refresh_module, "_read_target", read_then_lose_lease)

    status = await run_refresh(run.id)

    assert status is RefreshStatus.FAILED
    [finished] = [r for r in await _runs(application_id) if r.id == run.id]
    assert finished.error == refresh_module.LEASE_LOST
    provisioning = await _schedule(api, application_id)
    assert provisioning["accounts"]["totalCount"] == 0
