"""Refreshes of the mirror through the GraphQL API, on scim2-server and the fake."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlmodel import col, select
from strawberry import relay

from domain.config import get_settings
from domain.db import session_scope
from domain.models import RefreshRun, RefreshStatus
from domain.models.columns import utcnow
from domain.provisioning import refresh as refresh_module
from domain.provisioning.refresh import STALE_AFTER, request_refresh
from tests.support.fake_scim import FakeResponse, FakeScim, make_group, make_users
from tests.support.fixtures import (
    CONFIGURE,
    connect,
    create_application,
    create_user,
    grant_access,
    wait_for_refresh,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import Scim2Server, ScimTenant

REFRESH = """
mutation($applicationId: ID!) {
  refreshProvisioning(input: {applicationId: $applicationId}) {
    refreshRun { id status }
    errors { code message field }
  }
}
"""

ACCOUNTS = """
query($id: ID!, $first: Int, $after: String, $search: String, $linked: Boolean) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(first: $first, after: $after, search: $search, linked: $linked) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges { node { id scimId userName displayName email user { id } } }
        }
      }
    }
  }
}
"""

GROUPS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        groups(first: 100) {
          totalCount
          edges { node { scimId displayName memberCount folder { id } } }
        }
      }
    }
  }
}
"""

LAST_REFRESH_ID = """
query($id: ID!) {
  node(id: $id) { ... on Application { provisioning { lastRefresh { id } } } }
}
"""

CREATE_ACCOUNT = """
mutation($applicationId: ID!, $userId: ID!) {
  createAccount(input: {applicationId: $applicationId, userId: $userId}) {
    account { id scimId userName user { id } }
    errors { code message }
  }
}
"""

FAMILY_NAMES = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Silva"]
SEEDED_USERS = 250


def seeded_user(number: int) -> dict[str, Any]:
    given_name = f"Given{number:03d}"
    family_name = FAMILY_NAMES[number % len(FAMILY_NAMES)]
    return {
        "userName": f"user{number:03d}",
        "name": {"givenName": given_name, "familyName": family_name},
        "displayName": f"{given_name} {family_name}",
        "emails": [
            {
                "value": f"person{number:03d}@example.org",
                "type": "work",
                "primary": True,
            }
        ],
        "active": True,
    }


@pytest.fixture(scope="module")
def seeded_target(scim2_server: Scim2Server) -> ScimTenant:
    """A scim2-server tenant with 250 users and three groups, shared read-only."""
    tenant = scim2_server.tenant()
    users = tenant.create_users([seeded_user(n) for n in range(SEEDED_USERS)])
    ids = [user["id"] for user in users]
    tenant.create_group("Engineering", ids[:10])
    tenant.create_group("Sales", ids[10:13])
    tenant.create_group("Empty Group")
    return tenant


async def accounts_page(
    api: GraphQLClient, application_id: str, **arguments: Any
) -> dict[str, Any]:
    data = await api(ACCOUNTS, id=application_id, **arguments)
    accounts: dict[str, Any] = data["node"]["provisioning"]["accounts"]
    return accounts


async def user_names(
    api: GraphQLClient, application_id: str, **arguments: Any
) -> list[str]:
    page = await accounts_page(api, application_id, first=100, **arguments)
    return [edge["node"]["userName"] for edge in page["edges"]]


async def mirrored_accounts(
    api: GraphQLClient, application_id: str
) -> list[tuple[str, str, str | None]]:
    """Return (scimId, userName, displayName) of every account in the mirror."""
    page = await accounts_page(api, application_id, first=100)
    assert page["pageInfo"]["hasNextPage"] is False
    return [
        (edge["node"]["scimId"], edge["node"]["userName"], edge["node"]["displayName"])
        for edge in page["edges"]
    ]


async def refresh(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    """Request a refresh, check it was accepted, and return its run."""
    data = await api(REFRESH, applicationId=application_id)
    assert data["refreshProvisioning"]["errors"] == []
    run: dict[str, Any] = data["refreshProvisioning"]["refreshRun"]
    return run


async def configure_fake(
    api: GraphQLClient, application_id: str, fake: FakeScim
) -> dict[str, Any]:
    """Connect the application to the fake and return the queued run."""
    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=fake.base_url, token=fake.token
    )
    assert data["configureProvisioning"]["errors"] == []
    run: dict[str, Any] = data["configureProvisioning"]["refreshRun"]
    return run


async def connect_fake(
    api: GraphQLClient, application_id: str, fake: FakeScim
) -> dict[str, Any]:
    """Connect the application to the fake and wait for its first refresh."""
    await configure_fake(api, application_id, fake)
    return await wait_for_refresh(api, application_id)


async def link_account(api: GraphQLClient, application_id: str, email: str) -> str:
    """Link the mirrored account whose email is `email` to a new SmartLink user."""
    user_id = await create_user(api, email)
    await grant_access(api, user_id, application_id)
    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)
    assert data["createAccount"]["errors"] == []
    assert data["createAccount"]["account"]["user"] == {"id": user_id}
    return user_id


def node_uuid(global_id: str) -> uuid.UUID:
    return uuid.UUID(relay.GlobalID.from_id(global_id).node_id)


async def test_refresh_reads_every_account(
    api: GraphQLClient, seeded_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)

    run = await connect(api, application_id, seeded_target)

    assert run["status"] == "SUCCEEDED"
    assert run["accountsRead"] == 250
    assert run["totalAccounts"] == 250
    assert run["groupsRead"] == 3
    assert run["totalGroups"] == 3
    assert run["complete"] is True
    assert run["error"] is None


async def test_small_pages_read_every_account(
    api: GraphQLClient,
    seeded_target: ScimTenant,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "scim_page_size", 7)
    application_id = await create_application(api)

    run = await connect(api, application_id, seeded_target)

    assert run["status"] == "SUCCEEDED"
    assert run["accountsRead"] == 250
    assert run["totalAccounts"] == 250
    assert run["complete"] is True
    expected = sorted(f"user{n:03d}" for n in range(SEEDED_USERS))
    names = []
    after = None
    for _ in range(3):
        page = await accounts_page(api, application_id, first=100, after=after)
        names += [edge["node"]["userName"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert names == expected


async def test_accounts_tab_pages_through_all(
    api: GraphQLClient, seeded_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, seeded_target)

    pages = []
    after = None
    while True:
        page = await accounts_page(api, application_id, first=100, after=after)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert [page["totalCount"] for page in pages] == [250, 250, 250]
    assert [len(page["edges"]) for page in pages] == [100, 100, 50]
    names = [edge["node"]["userName"] for page in pages for edge in page["edges"]]
    assert names == sorted(f"user{n:03d}" for n in range(SEEDED_USERS))
    first = pages[0]["edges"][0]["node"]
    assert first["displayName"] == "Given000 Okafor"
    assert first["email"] == "person000@example.org"
    assert first["user"] is None


async def test_accounts_search(
    api: GraphQLClient, seeded_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, seeded_target)

    assert await user_names(api, application_id, search="user007") == ["user007"]
    assert await user_names(api, application_id, search="USER00") == [
        f"user00{n}" for n in range(10)
    ]
    assert await user_names(api, application_id, search="Given123") == ["user123"]
    assert await user_names(api, application_id, search="person249@example") == [
        "user249"
    ]
    assert await user_names(api, application_id, search="nobody") == []
    lindqvist = await accounts_page(api, application_id, search="lindqvist")
    assert lindqvist["totalCount"] == 50
    assert lindqvist["edges"][0]["node"]["userName"] == "user001"


async def test_accounts_linked_filter(
    api: GraphQLClient, seeded_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, seeded_target)
    first_user = await link_account(api, application_id, "person005@example.org")
    second_user = await link_account(api, application_id, "person150@example.org")

    linked = await accounts_page(api, application_id, linked=True)
    unlinked = await accounts_page(api, application_id, first=100, linked=False)

    assert linked["totalCount"] == 2
    assert [
        (edge["node"]["userName"], edge["node"]["user"]) for edge in linked["edges"]
    ] == [("user005", {"id": first_user}), ("user150", {"id": second_user})]
    assert unlinked["totalCount"] == 248
    unlinked_names = [edge["node"]["userName"] for edge in unlinked["edges"]]
    assert "user005" not in unlinked_names
    assert all(edge["node"]["user"] is None for edge in unlinked["edges"])
    assert await user_names(api, application_id, search="user15", linked=True) == [
        "user150"
    ]


async def test_groups_tab_counts_members(
    api: GraphQLClient, seeded_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, seeded_target)

    data = await api(GROUPS, id=application_id)

    groups = data["node"]["provisioning"]["groups"]
    assert groups["totalCount"] == 3
    assert [
        (
            edge["node"]["displayName"],
            edge["node"]["memberCount"],
            edge["node"]["folder"],
        )
        for edge in groups["edges"]
    ] == [("Empty Group", 0, None), ("Engineering", 10, None), ("Sales", 3, None)]


async def test_second_refresh_removes_deleted_accounts(
    api: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "scim_page_size", 4)
    users = scim_target.create_users([seeded_user(n) for n in range(10)])
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    kept_user = await link_account(api, application_id, "person002@example.org")
    await link_account(api, application_id, "person009@example.org")
    before = await accounts_page(api, application_id, linked=True)
    for number in (3, 5, 9):
        scim_target.delete_user(users[number]["id"])

    queued = await refresh(api, application_id)
    run = await wait_for_refresh(api, application_id)

    assert run["id"] == queued["id"]
    assert run["status"] == "SUCCEEDED"
    assert run["accountsRead"] == 7
    assert run["totalAccounts"] == 7
    assert run["complete"] is True
    assert await user_names(api, application_id) == [
        f"user00{n}" for n in (0, 1, 2, 4, 6, 7, 8)
    ]
    after = await accounts_page(api, application_id, linked=True)
    assert after["totalCount"] == 1
    assert after["edges"][0]["node"] == before["edges"][0]["node"]
    assert after["edges"][0]["node"]["user"] == {"id": kept_user}


async def test_refresh_while_running_returns_same_run(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.resources = make_users(3)
    hold = fake_scim.hold("/Groups")
    application_id = await create_application(api)
    first = await configure_fake(api, application_id, fake_scim)
    await hold.wait_arrived()

    again = await refresh(api, application_id)

    assert again == {"id": first["id"], "status": "RUNNING"}
    assert len(fake_scim.requests_to("/Groups")) == 1
    hold.release()
    run = await wait_for_refresh(api, application_id)
    assert run["id"] == first["id"]
    assert run["status"] == "SUCCEEDED"
    assert len(fake_scim.requests_to("/Groups")) == 1


async def test_concurrent_requests_queue_one_run(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await create_application(api)
    first = await connect_fake(api, application_id, fake_scim)
    hold = fake_scim.hold("/Groups")

    results = await asyncio.gather(
        *[api(REFRESH, applicationId=application_id) for _ in range(5)]
    )
    hold.release()
    run = await wait_for_refresh(api, application_id)

    payloads = [result["refreshProvisioning"] for result in results]
    assert [payload["errors"] for payload in payloads] == [[]] * 5
    assert {payload["refreshRun"]["id"] for payload in payloads} == {run["id"]}
    assert run["status"] == "SUCCEEDED"
    async with session_scope() as session:
        runs = (await session.exec(select(func.count()).select_from(RefreshRun))).one()
    assert runs == 2
    assert run["id"] != first["id"]


async def test_refresh_while_queued_returns_same_run(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect_fake(api, application_id, fake_scim)
    async with session_scope() as session:
        # Queued without a job, so it stays QUEUED for the whole test.
        queued, is_new = await request_refresh(session, node_uuid(application_id))
    assert is_new is True

    again = await refresh(api, application_id)

    assert again == {
        "id": str(relay.GlobalID("RefreshRun", str(queued.id))),
        "status": "QUEUED",
    }


async def test_stale_run_gives_way_to_new_one(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await create_application(api)
    first = await connect_fake(api, application_id, fake_scim)
    async with session_scope() as session:
        await session.exec(  # type: ignore[call-overload]
            update(RefreshRun)
            .where(col(RefreshRun.id) == node_uuid(first["id"]))
            .values(
                status=RefreshStatus.RUNNING,
                started_at=utcnow() - STALE_AFTER - timedelta(minutes=1),
            )
        )

    again = await refresh(api, application_id)
    run = await wait_for_refresh(api, application_id)

    assert again["id"] != first["id"]
    assert run["id"] == again["id"]
    assert run["status"] == "SUCCEEDED"


async def test_failed_refresh_keeps_mirror(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.resources = make_users(5)
    fake_scim.users.max_page_size = 2
    application_id = await create_application(api)
    await connect_fake(api, application_id, fake_scim)
    before = await mirrored_accounts(api, application_id)
    fake_scim.users.resources = make_users(4)
    fake_scim.users.resources[0]["displayName"] = "Renamed"
    fake_scim.inject("/Users", FakeResponse.html(502), after=1)

    await refresh(api, application_id)
    run = await wait_for_refresh(api, application_id)

    assert run["status"] == "FAILED"
    assert run["error"] == (
        "Could not read the target's users and groups: "
        f"GET {fake_scim.base_url}/Users returned 502: an HTML page instead of a "
        "SCIM error. The target failed; retry in a moment."
    )
    assert fake_scim.token not in run["error"]
    assert run["accountsRead"] == 2
    assert fake_scim.pages_read("/Users")[-2:] == [(1, 100), (3, 100)]
    assert await mirrored_accounts(api, application_id) == before
    assert len(before) == 5


async def test_unexpected_error_fails_and_rolls_back(
    api: GraphQLClient,
    fake_scim: FakeScim,
    job_worker: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_scim.users.resources = make_users(3)
    application_id = await create_application(api)
    await connect_fake(api, application_id, fake_scim)
    before = await mirrored_accounts(api, application_id)
    fake_scim.users.resources = make_users(2) + make_users(2, start=10)

    async def fail_to_write(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    # Accounts are written, then the groups fail, as a lost database would.
    monkeypatch.setattr(refresh_module, "replace_groups", fail_to_write)
    await refresh(api, application_id)
    run = await wait_for_refresh(api, application_id)

    assert run["status"] == "FAILED"
    assert run["error"] == (
        "The refresh stopped on an unexpected error and left the mirror as it "
        "was; see the server log, then refresh again."
    )
    assert await mirrored_accounts(api, application_id) == before


async def test_incomplete_listing_removes_nothing(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.resources = make_users(5)
    fake_scim.users.max_page_size = 2
    fake_scim.groups.resources = [make_group("group-1", "Staff", ["user-0001"])]
    application_id = await create_application(api)
    await connect_fake(api, application_id, fake_scim)
    fake_scim.users.resources = make_users(3)
    fake_scim.users.resources[0]["displayName"] = "Renamed"
    fake_scim.users.ignore_start_index = True
    fake_scim.groups.resources = []

    await refresh(api, application_id)
    run = await wait_for_refresh(api, application_id)

    assert run["status"] == "SUCCEEDED"
    assert run["complete"] is False
    assert run["accountsRead"] == 2
    assert run["error"] == (
        "No account was removed from the mirror because the target's user "
        "listing is incomplete: the target answered startIndex 3 with the page at "
        "startIndex 1."
    )
    assert await mirrored_accounts(api, application_id) == [
        ("user-0001", "user0001@example.org", "Renamed"),
        ("user-0002", "user0002@example.org", "User 0002"),
        ("user-0003", "user0003@example.org", "User 0003"),
        ("user-0004", "user0004@example.org", "User 0004"),
        ("user-0005", "user0005@example.org", "User 0005"),
    ]
    groups = (await api(GROUPS, id=application_id))["node"]["provisioning"]["groups"]
    # The group listing itself was complete, so its removal goes ahead.
    assert groups["totalCount"] == 0


async def test_target_without_groups_keeps_groups(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.resources = make_users(2)
    fake_scim.groups.resources = [make_group("group-1", "Staff", ["user-0001"])]
    application_id = await create_application(api)
    await connect_fake(api, application_id, fake_scim)
    fake_scim.users.resources = make_users(1)
    fake_scim.inject("/Groups", FakeResponse.scim_error(404, "Unknown endpoint."))

    await refresh(api, application_id)
    run = await wait_for_refresh(api, application_id)

    assert run["status"] == "SUCCEEDED"
    assert run["complete"] is False
    assert run["error"] == (
        "No group was removed from the mirror because the target's group listing "
        "is incomplete: the target has no /Groups."
    )
    assert await mirrored_accounts(api, application_id) == [
        ("user-0001", "user0001@example.org", "User 0001")
    ]
    groups = (await api(GROUPS, id=application_id))["node"]["provisioning"]["groups"]
    assert groups["totalCount"] == 1


async def test_account_created_during_refresh_is_kept(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.resources = make_users(2)
    application_id = await create_application(api)
    user_id = await create_user(api, "late@example.org")
    await grant_access(api, user_id, application_id)
    hold = fake_scim.hold("/Groups")
    await configure_fake(api, application_id, fake_scim)
    await hold.wait_arrived()

    # The users were listed before this account existed in the target.
    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)
    hold.release()
    run = await wait_for_refresh(api, application_id)

    created = data["createAccount"]
    assert created["errors"] == []
    assert run["status"] == "SUCCEEDED"
    assert run["accountsRead"] == 2
    assert await user_names(api, application_id) == [
        "late@example.org",
        "user0001@example.org",
        "user0002@example.org",
    ]
    linked = await accounts_page(api, application_id, linked=True)
    assert [edge["node"]["id"] for edge in linked["edges"]] == [
        created["account"]["id"]
    ]


async def test_refresh_needs_connection(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(REFRESH, applicationId=application_id)

    payload = data["refreshProvisioning"]
    assert payload["refreshRun"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_CONNECTED", ["applicationId"])
    ]
    assert "Configuration tab" in payload["errors"][0]["message"]
    last = await api(LAST_REFRESH_ID, id=application_id)
    assert last["node"]["provisioning"]["lastRefresh"] is None


async def test_refresh_after_failed_connection(
    api: GraphQLClient, fake_scim: FakeScim
) -> None:
    application_id = await create_application(api)
    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=fake_scim.base_url, token="x"
    )
    assert data["configureProvisioning"]["provisioning"]["status"] == "FAILED"
    listed_before = len(fake_scim.requests)

    data = await api(REFRESH, applicationId=application_id)

    payload = data["refreshProvisioning"]
    assert payload["refreshRun"] is None
    assert [e["code"] for e in payload["errors"]] == ["NOT_CONNECTED"]
    assert len(fake_scim.requests) == listed_before
    last = await api(LAST_REFRESH_ID, id=application_id)
    assert last["node"]["provisioning"]["lastRefresh"] is None
