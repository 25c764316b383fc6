"""Error responses of any shape, and 404s that do not come from the SCIM resource."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from domain.db import session_scope
from domain.models import EventStatus, OutboxEvent
from tests.support.fake_scim import ERROR, FakeResponse, FakeScim
from tests.support.fixtures import (
    CREATE_ACCOUNT,
    connect,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

ACCOUNTS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application { provisioning { accounts { edges { node { scimId } } } } }
  }
}
"""

SCIM_ERROR = {"schemas": [ERROR], "status": "400", "scimType": "invalidValue"}


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        (
            FakeResponse(
                400,
                json={"error": json.dumps({**SCIM_ERROR, "detail": "Too long."})},
            ),
            ": Too long.",
        ),
        (
            FakeResponse(400, json={"errors": [{**SCIM_ERROR, "detail": "Nested."}]}),
            ": Nested.",
        ),
        (
            FakeResponse(400, json={"status": 400, "detail": "No schemas."}),
            ": No schemas.",
        ),
        (FakeResponse(400, json={"message": "Plain message."}), ": Plain message."),
        (
            FakeResponse(400, json={"error": {"code": 7, "message": "Deep message."}}),
            ": Deep message.",
        ),
        (FakeResponse(400, json=["odd", "list"]), ': ["odd", "list"]'),
        (
            FakeResponse(400, text="Bad things happened", content_type="text/plain"),
            ": Bad things happened",
        ),
        (FakeResponse(400), "."),
        (FakeResponse.html(400), ": an HTML page instead of a SCIM error"),
    ],
)
async def test_error_body_shapes(
    api: GraphQLClient,
    fake_scim: FakeScim,
    job_worker: None,
    response: FakeResponse,
    detail: str,
) -> None:
    fake_scim.inject("/Users", response, method="POST")
    application_id = await create_application(api)
    await connect(api, application_id, fake_scim)  # type: ignore[arg-type]
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)

    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)

    [error] = data["createAccount"]["errors"]
    assert error["code"] == "TARGET_REJECTED"
    assert f"POST {fake_scim.base_url}/Users returned 400{detail}" in error["message"]
    assert fake_scim.users.resources == []


async def deprovisioning(api: GraphQLClient, fake: FakeScim) -> tuple[str, str, str]:
    """Give Ada an account through automatic mode, set to delete on loss."""
    application_id = await create_application(api)
    await connect(api, application_id, fake)  # type: ignore[arg-type]
    await update_settings(
        api,
        application_id,
        userGainsAccess="AUTOMATIC",
        userLosesAccess="AUTOMATIC",
        deprovisionAction="DELETE",
    )
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    await wait_until(outbox_settled, timeout=60, what="the grant's event")
    [resource] = fake.users.resources
    return application_id, user_id, str(resource["id"])


async def revoke(api: GraphQLClient, user_id: str, application_id: str) -> OutboxEvent:
    """Revoke Ada's access and return the settled loss event."""
    await api(REVOKE, userId=user_id, applicationId=application_id)
    await wait_until(outbox_settled, timeout=60, what="the loss event")
    async with session_scope() as session:
        events = list(await session.exec(select(OutboxEvent)))
    return max(events, key=lambda event: event.sequence)


async def mirrored(api: GraphQLClient, application_id: str) -> list[str]:
    data = await api(ACCOUNTS, id=application_id)
    edges: list[dict[str, Any]] = data["node"]["provisioning"]["accounts"]["edges"]
    return [edge["node"]["scimId"] for edge in edges]


@pytest.mark.parametrize(
    "response",
    [
        FakeResponse.html(404),
        FakeResponse(
            404,
            json={"timestamp": "2026-01-01T00:00:00Z", "status": 404, "path": "/x"},
            content_type="application/json",
        ),
        FakeResponse(
            404,
            json={"type": "about:blank", "status": 404, "detail": "No route."},
            content_type="application/problem+json",
        ),
        FakeResponse(404, text="Not Found", content_type="text/plain"),
        FakeResponse(404),
    ],
)
async def test_delete_non_scim_404_is_routing(
    api: GraphQLClient, fake_scim: FakeScim, automation: None, response: FakeResponse
) -> None:
    application_id, user_id, scim_id = await deprovisioning(api, fake_scim)
    fake_scim.inject(f"/Users/{scim_id}", response, method="DELETE")

    event = await revoke(api, user_id, application_id)

    assert event.status is EventStatus.FAILED
    assert event.attempts == 1
    assert "did not reach a SCIM resource" in (event.error or "")
    assert "check that the base URL" in (event.error or "")
    assert len(fake_scim.requests_to(f"/Users/{scim_id}", method="DELETE")) == 1
    assert [str(r["id"]) for r in fake_scim.users.resources] == [scim_id]
    assert await mirrored(api, application_id) == [scim_id]


@pytest.mark.parametrize(
    "response",
    [
        FakeResponse.scim_error(404, "User not found."),
        FakeResponse(404, json={"status": "404", "detail": "User not found."}),
    ],
)
async def test_delete_scim_404_is_gone(
    api: GraphQLClient, fake_scim: FakeScim, automation: None, response: FakeResponse
) -> None:
    application_id, user_id, scim_id = await deprovisioning(api, fake_scim)
    fake_scim.inject(f"/Users/{scim_id}", response, method="DELETE")

    event = await revoke(api, user_id, application_id)

    assert event.status is EventStatus.DONE
    assert event.error == "Account 'ada@example.org' was already gone from the target."
    assert await mirrored(api, application_id) == []
