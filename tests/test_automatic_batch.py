"""Batch jobs: several automatic events settled by one job, on a real scim2-server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from domain.automation import creations
from domain.automation.batch import process_events
from domain.automation.handlers import Outcome
from domain.db import session_scope
from domain.models import EventStatus, OutboxEvent, ScimAccount
from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
    operations,
    update_settings,
)
from tests.support.graphql import GraphQLClient
from tests.support.mapping import update_mapping, with_entries
from tests.support.scim2_server import ScimTenant

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""


UPDATE_EMAIL = """
mutation($userId: ID!, $email: String!) {
  updateUser(input: {userId: $userId, email: $email}) { errors { code message } }
}
"""


async def _automatic_application(api: GraphQLClient, target: ScimTenant) -> str:
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(
        api, application_id, userGainsAccess="AUTOMATIC", userLosesAccess="AUTOMATIC"
    )
    return application_id


async def _events() -> list[OutboxEvent]:
    async with session_scope() as session:
        statement = select(OutboxEvent).order_by(col(OutboxEvent.sequence))
        return list(await session.exec(statement))


def _accounts(target: ScimTenant) -> dict[str, Any]:
    return {user["userName"]: user for user in target.users()}


async def test_batch_run_twice_creates_once(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    emails = [f"user{index}@example.org" for index in range(3)]
    for email in emails:
        await grant_access(api, await create_user(api, email), application_id)
    event_ids = [event.id for event in await _events()]

    first = await process_events(event_ids)
    second = await process_events(event_ids)

    assert first == dict.fromkeys(event_ids, Outcome.DONE)
    assert second == {}
    assert sorted(_accounts(scim_target)) == emails
    assert [event.status for event in await _events()] == [EventStatus.DONE] * 3
    log = await operations(api, application_id)
    creations = [entry for entry in log if entry["action"] == "CREATE_ACCOUNT"]
    assert len(creations) == 3
    assert {entry["status"] for entry in creations} == {"SUCCEEDED"}


async def test_batch_settles_user_events_in_order(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    ada = await create_user(api, "ada@example.org")
    bob = await create_user(api, "bob@example.org")
    await grant_access(api, ada, application_id)
    revoked = await api(REVOKE, userId=ada, applicationId=application_id)
    assert revoked["revokeAccess"]["errors"] == []
    await grant_access(api, ada, application_id)
    await grant_access(api, bob, application_id)
    events = await _events()
    assert len(events) == 4

    outcomes = await process_events([event.id for event in events])

    assert outcomes == {event.id: Outcome.DONE for event in events}
    names = [user["userName"] for user in scim_target.users()]
    # Ada's first gain created her account, so her loss (she has access
    # again) and her second gain found nothing to do.
    assert sorted(names) == ["ada@example.org", "bob@example.org"]
    notes = [event.error for event in await _events()]
    assert notes[0] == "Account 'ada@example.org' is linked to 'ada@example.org'."
    assert notes[1] == "Nothing to do: the target already agrees."
    assert notes[2] == "Nothing to do: the target already agrees."


async def test_batch_event_waits_for_earlier_one(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    ada = await create_user(api, "ada@example.org")
    await grant_access(api, ada, application_id)
    revoked = await api(REVOKE, userId=ada, applicationId=application_id)
    assert revoked["revokeAccess"]["errors"] == []
    await grant_access(api, ada, application_id)
    first, _loss, last = await _events()

    outcomes = await process_events([last.id])

    assert outcomes == {last.id: Outcome.WAITING}
    assert scim_target.users() == []
    async with session_scope() as session:
        stored = await session.get(OutboxEvent, last.id)
        assert stored is not None
        assert stored.status is EventStatus.PENDING
        assert stored.attempts == 0
        earlier = await session.get(OutboxEvent, first.id)
        assert earlier is not None
        assert earlier.status is EventStatus.PENDING


async def test_batch_skips_unknown_events(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    assert await process_events([uuid.uuid4()]) == {}


async def test_batch_creation_follows_mapping(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await _automatic_application(api, scim_target)
    nick = {"path": "nickName", "source": "TEMPLATE", "value": "nick-{email}"}
    mapped = await update_mapping(api, application_id, "USER", with_entries(nick))
    assert mapped["errors"] == []
    emails = ["ada@example.org", "bob@example.org"]
    for email in emails:
        await grant_access(api, await create_user(api, email), application_id)
    event_ids = [event.id for event in await _events()]

    outcomes = await process_events(event_ids)

    assert outcomes == dict.fromkeys(event_ids, Outcome.DONE)
    accounts = _accounts(scim_target)
    assert sorted(accounts) == emails
    for email in emails:
        assert accounts[email]["nickName"] == f"nick-{email}"


async def test_batch_account_linked_elsewhere(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    first = await create_user(api, "shared@example.org")
    await grant_access(api, first, application_id)
    await connect(api, application_id, scim_target)
    first_account = await create_account(api, application_id, first)
    # A new user takes the first user's old address, so the batch's POST for
    # the new user conflicts with the account linked to the first user.
    await api(UPDATE_EMAIL, userId=first, email="first@example.org")
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC")
    second = await create_user(api, "shared@example.org")
    third = await create_user(api, "third@example.org")
    await grant_access(api, second, application_id)
    await grant_access(api, third, application_id)
    events = [event for event in await _events() if event.status is EventStatus.PENDING]
    assert len(events) == 2

    outcomes = await process_events([event.id for event in events])

    assert sorted(outcome.value for outcome in outcomes.values()) == ["done", "failed"]
    assert sorted(_accounts(scim_target)) == ["shared@example.org", "third@example.org"]
    log = await operations(api, application_id)
    failed = [entry for entry in log if entry["status"] == "FAILED"]
    assert len(failed) == 1
    assert first_account["scimId"] in failed[0]["error"]
    assert "'first@example.org'" in failed[0]["error"]
    linked = await _linked_users(application_id)
    assert linked == {first_account["scimId"]: node_uuid(first)} | {
        _accounts(scim_target)["third@example.org"]["id"]: node_uuid(third)
    }


async def _linked_users(application_id: str) -> dict[str, str]:
    async with session_scope() as session:
        statement = select(ScimAccount).where(
            ScimAccount.application_id == uuid.UUID(node_uuid(application_id))
        )
        return {
            account.scim_id: str(account.user_id)
            for account in await session.exec(statement)
        }


async def test_batch_defers_past_budget(
    api: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    application_id = await _automatic_application(api, scim_target)
    for index in range(3):
        await grant_access(
            api, await create_user(api, f"user{index}@example.org"), application_id
        )
    event_ids = [event.id for event in await _events()]
    monkeypatch.setattr(creations, "SEND_BUDGET", 0.0)

    outcomes = await process_events(event_ids)

    assert outcomes == dict.fromkeys(event_ids, Outcome.WAITING)
    assert scim_target.users() == []
    assert await operations(api, application_id) == []
    for event in await _events():
        assert event.status is EventStatus.PENDING
        assert event.attempts == 0
        assert event.claimed_at is None

    monkeypatch.setattr(creations, "SEND_BUDGET", 20.0)
    again = await process_events(event_ids)

    assert again == dict.fromkeys(event_ids, Outcome.DONE)
    assert len(scim_target.users()) == 3
    assert [event.attempts for event in await _events()] == [1, 1, 1]


async def test_batch_sends_within_budget(
    api: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    application_id = await _automatic_application(api, scim_target)
    for index in range(4):
        await grant_access(
            api, await create_user(api, f"user{index}@example.org"), application_id
        )
    event_ids = [event.id for event in await _events()]
    # A target that takes 0.4 s per creation, one at a time, within a 0.6 s
    # budget: the first two creations start in time, the last two do not.
    send_creation = creations.send_creation

    async def slow_send_creation(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.4)
        return await send_creation(*args, **kwargs)

    monkeypatch.setattr(creations, "send_creation", slow_send_creation)
    monkeypatch.setattr(creations, "CONCURRENCY", 1)
    monkeypatch.setattr(creations, "SEND_BUDGET", 0.6)

    outcomes = await process_events(event_ids)

    assert sorted(outcome.value for outcome in outcomes.values()) == [
        "done",
        "done",
        "waiting",
        "waiting",
    ]
    assert len(scim_target.users()) == 2
    log = await operations(api, application_id)
    assert [entry["status"] for entry in log] == ["SUCCEEDED", "SUCCEEDED"]
    pending = [e for e in await _events() if e.status is EventStatus.PENDING]
    assert len(pending) == 2
