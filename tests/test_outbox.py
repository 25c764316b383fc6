"""The outbox: events commit with their change and survive a broker outage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from domain.automation.outbox import (
    REPUBLISH_AFTER,
    REPUBLISH_MAX,
    reserve_due_events,
)
from domain.db import session_scope
from domain.models import EventStatus, OutboxEvent
from domain.models.columns import utcnow
from tests.support.fixtures import (
    connect,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

#: The global id of a user that does not exist (UUID zero).
MISSING_USER = "VXNlcjowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA="

GRANT_TO_MISSING_USER = """
mutation($userId: ID!, $applicationId: ID!) {
  grantAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code }
  }
}
"""


async def _events() -> list[OutboxEvent]:
    async with session_scope() as session:
        return list(await session.exec(select(OutboxEvent)))


async def _automatic_application(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC")
    return application_id


async def test_failed_change_writes_no_event(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)

    data = await api(
        GRANT_TO_MISSING_USER, userId=MISSING_USER, applicationId=application_id
    )

    assert [e["code"] for e in data["grantAccess"]["errors"]] == ["NOT_FOUND"]
    assert await _events() == []


async def test_event_commits_with_change(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org")

    await grant_access(api, user_id, application_id)

    [event] = await _events()
    assert event.event.value == "USER_GAINS_ACCESS"
    assert event.status is EventStatus.PENDING


async def test_broker_outage_keeps_events_pending(
    api: GraphQLClient,
    scim_target: ScimTenant,
    automation: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs import automation as automation_jobs
    from jobs import relay

    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org")
    sent = automation_jobs.enqueue_events

    refused: list[object] = []

    def broker_down(event_ids: object) -> None:
        refused.append(event_ids)
        raise ConnectionError("broker unreachable")

    async def retried_while_pending() -> bool:
        [event] = await _events()
        return len(refused) >= 2 and event.status is EventStatus.PENDING

    monkeypatch.setattr(relay, "enqueue_events", broker_down)
    await grant_access(api, user_id, application_id)
    await wait_until(retried_while_pending, what="two refused sends, event pending")
    assert relay.current is not None

    monkeypatch.setattr(relay, "enqueue_events", sent)
    relay.current.nudge()
    await wait_until(outbox_settled, what="events after the outage")
    assert [u["userName"] for u in scim_target.users()] == ["ada@example.org"]


async def _mark_due_events() -> list[OutboxEvent]:
    """Run the relay's bookkeeping for the due events, without sending jobs."""
    async with session_scope() as session:
        await reserve_due_events(session)
    return await _events()


async def _set_last_publication(waited: timedelta) -> None:
    """Make the event look published `waited` ago, and due for another copy."""
    now = utcnow()
    async with session_scope() as session:
        await session.exec(
            update(OutboxEvent).values(
                enqueued_at=now - waited, next_attempt_at=now - timedelta(seconds=1)
            )
        )


async def test_republication_backs_off(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)

    [event] = await _mark_due_events()
    assert event.status is EventStatus.ENQUEUED
    assert event.enqueued_at is not None
    assert event.next_attempt_at - event.enqueued_at == REPUBLISH_AFTER
    async with session_scope() as session:
        assert await reserve_due_events(session) == []

    await _set_last_publication(timedelta(seconds=40))
    [event] = await _mark_due_events()
    assert event.enqueued_at is not None
    delay = event.next_attempt_at - event.enqueued_at
    assert timedelta(seconds=80) <= delay < timedelta(seconds=81)

    await _set_last_publication(timedelta(hours=1))
    [event] = await _mark_due_events()
    assert event.enqueued_at is not None
    assert event.next_attempt_at - event.enqueued_at == REPUBLISH_MAX
