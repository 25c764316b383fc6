"""The mass-deprovisioning guard holds automatic removals past a threshold."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from domain.db import session_scope
from domain.models import EventStatus, OutboxEvent
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

REVOKE = """
mutation($userId: ID!, $applicationId: ID!) {
  revokeAccess(input: {userId: $userId, applicationId: $applicationId}) {
    errors { code message }
  }
}
"""

OPEN_TICKETS = """
query { tickets(status: OPEN) { edges { node { id action message } } } }
"""

RESOLVE = """
mutation($id: ID!) { resolveTicket(input: {ticketId: $id}) {
  ticket { status resolution } errors { code message } } }
"""

DISMISS = """
mutation($id: ID!) { dismissTicket(input: {ticketId: $id}) {
  ticket { status resolution } errors { code message } } }
"""


async def _five_users_removed(
    api: GraphQLClient, target: ScimTenant
) -> tuple[str, list[str]]:
    """Provision five users automatically, set the threshold to 2, revoke all."""
    application_id = await create_application(api)
    await connect(api, application_id, target)
    await update_settings(
        api,
        application_id,
        userGainsAccess="AUTOMATIC",
        userLosesAccess="AUTOMATIC",
        deprovisionAction="DELETE",
        massDeprovisionThreshold=2,
    )
    user_ids = []
    for index in range(5):
        user_id = await create_user(api, f"user{index}@example.org")
        await grant_access(api, user_id, application_id)
        user_ids.append(user_id)
    await wait_until(outbox_settled, what="grants")
    assert len(target.users()) == 5

    for user_id in user_ids:
        await api(REVOKE, userId=user_id, applicationId=application_id)
    await wait_until(outbox_settled, what="revocations")
    return application_id, user_ids


async def _statuses() -> dict[EventStatus, int]:
    async with session_scope() as session:
        events = list(await session.exec(select(OutboxEvent)))
    counts: dict[EventStatus, int] = {}
    for event in events:
        counts[event.status] = counts.get(event.status, 0) + 1
    return counts


async def _guard_ticket(api: GraphQLClient) -> dict[str, Any]:
    [ticket] = [e["node"] for e in (await api(OPEN_TICKETS))["tickets"]["edges"]]
    return ticket


async def test_removals_past_threshold_wait(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    await _five_users_removed(api, scim_target)

    assert len(scim_target.users()) == 3
    assert (await _statuses())[EventStatus.HELD] == 3
    ticket = await _guard_ticket(api)
    assert ticket["action"] == "RELEASE_HELD"
    assert ticket["message"].startswith("3 automatic account removals are waiting")


async def test_confirming_releases_held(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    await _five_users_removed(api, scim_target)
    ticket = await _guard_ticket(api)

    data = await api(RESOLVE, id=ticket["id"])

    assert data["resolveTicket"]["errors"] == []
    assert data["resolveTicket"]["ticket"]["resolution"] == "3 removals released."
    await wait_until(outbox_settled, what="released removals")
    assert scim_target.users() == []
    assert EventStatus.HELD not in await _statuses()


async def test_dismissing_cancels_held(
    api: GraphQLClient, scim_target: ScimTenant, automation: None
) -> None:
    await _five_users_removed(api, scim_target)
    ticket = await _guard_ticket(api)

    data = await api(DISMISS, id=ticket["id"])

    resolution = data["dismissTicket"]["ticket"]["resolution"]
    assert resolution == "Dismissed: 3 held removals were cancelled."
    await wait_until(outbox_settled, what="cancellation")
    assert len(scim_target.users()) == 3
    assert (await _statuses())[EventStatus.CANCELLED] == 3
