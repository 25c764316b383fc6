"""Automatic mode against a failing target: retries, backoff and failure tickets."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from domain.config import get_settings
from domain.db import session_scope
from domain.models import EventStatus, OutboxEvent
from tests.support.fake_scim import FakeResponse, FakeScim
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

OPERATIONS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        operations { edges { node { action status targetStatus error } } }
      }
    }
  }
}
"""

OPEN_TICKETS = """
query { tickets(status: OPEN) { edges { node { id event action message } } } }
"""

RESOLVE = """
mutation($id: ID!) { resolveTicket(input: {ticketId: $id}) {
  ticket { status resolution } errors { code message } } }
"""


async def _granted(api: GraphQLClient, fake: FakeScim) -> str:
    """Connect an automatic application to the fake and grant one user access."""
    application_id = await create_application(api)
    await connect(api, application_id, fake)  # type: ignore[arg-type]
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC")
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    await wait_until(outbox_settled, timeout=60, what="the grant's event")
    return application_id


async def _event() -> OutboxEvent:
    async with session_scope() as session:
        [event] = list(await session.exec(select(OutboxEvent)))
    return event


async def _operations(api: GraphQLClient, application_id: str) -> list[dict[str, Any]]:
    data = await api(OPERATIONS, id=application_id)
    edges = data["node"]["provisioning"]["operations"]["edges"]
    return [edge["node"] for edge in reversed(edges)]


async def test_server_errors_retried(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    fake_scim.inject("/Users", FakeResponse.html(503), method="POST", times=2)

    application_id = await _granted(api, fake_scim)

    assert [u["userName"] for u in fake_scim.users.resources] == ["ada@example.org"]
    event = await _event()
    assert event.status is EventStatus.DONE
    assert event.attempts == 3
    operations = await _operations(api, application_id)
    assert [(o["status"], o["targetStatus"]) for o in operations] == [
        ("FAILED", 503),
        ("FAILED", 503),
        ("SUCCEEDED", 201),
    ]
    assert "HTML page" in operations[0]["error"]


async def test_retry_after_honoured(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    throttled = FakeResponse.scim_error(429, "Slow down.")
    throttled.headers["Retry-After"] = "2"
    fake_scim.inject("/Users", throttled, method="POST", times=1)

    await _granted(api, fake_scim)

    posts = fake_scim.requests_to("/Users", method="POST")
    assert len(posts) == 2
    assert posts[1].received_at - posts[0].received_at >= 2.0
    assert len(fake_scim.users.resources) == 1


async def test_rejection_fails_with_ticket(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    rejected = FakeResponse.scim_error(400, "userName is not allowed.", "invalidValue")
    fake_scim.inject("/Users", rejected, method="POST", times=1)

    application_id = await _granted(api, fake_scim)

    event = await _event()
    assert event.status is EventStatus.FAILED
    assert event.attempts == 1
    assert "userName is not allowed." in (event.error or "")
    [ticket] = [e["node"] for e in (await api(OPEN_TICKETS))["tickets"]["edges"]]
    assert ticket["event"] == "USER_GAINS_ACCESS"
    assert "failed after 1 attempt(s)" in ticket["message"]
    assert "userName is not allowed." in ticket["message"]
    assert fake_scim.users.resources == []

    data = await api(RESOLVE, id=ticket["id"])

    assert data["resolveTicket"]["errors"] == []
    assert [u["userName"] for u in fake_scim.users.resources] == ["ada@example.org"]
    assert (await _operations(api, application_id))[-1]["status"] == "SUCCEEDED"


async def test_timeout_after_arrival_adopts(
    api: GraphQLClient,
    fake_scim: FakeScim,
    automation: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "scim_timeout", 1.0)
    hold = fake_scim.hold("/Users", method="POST")
    application_id = await create_application(api)
    await connect(api, application_id, fake_scim)  # type: ignore[arg-type]
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC")
    user_id = await create_user(api, "ada@example.org")

    await grant_access(api, user_id, application_id)
    await hold.wait_arrived()
    await wait_until(_timed_out, what="the POST to time out")
    hold.release()
    await wait_until(outbox_settled, timeout=60, what="the retried event")

    assert [u["userName"] for u in fake_scim.users.resources] == ["ada@example.org"]
    assert len(fake_scim.requests_to("/Users", method="POST")) == 1
    event = await _event()
    assert event.status is EventStatus.DONE
    assert event.attempts == 2


async def _timed_out() -> bool:
    event = await _event()
    return event.attempts >= 1 and event.status is not EventStatus.RUNNING
