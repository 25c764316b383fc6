"""Token roles, and the audit log of configuration changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from domain.db import session_scope
from domain.models import TokenRole
from domain.tokens import create_token
from tests.support.fixtures import (
    CONFIGURE,
    connect,
    create_application,
    create_user,
    grant_access,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

APPLICATIONS = """
{ applications { totalCount edges { node { name } } } }
"""

CREATE_APPLICATION = """
mutation {
  createApplication(input: {name: "Sneaky"}) { application { id } errors { code } }
}
"""

ACCOUNTS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning { accounts { edges { node { userName RAW } } } }
    }
  }
}
"""

SCHEMA = """
query($id: ID!) {
  node(id: $id) {
    ... on Application { provisioning { status schema { schemas } } }
  }
}
"""

AUDIT_LOG = """
query($applicationId: ID, $action: String, $first: Int, $after: String) {
  auditLog(
    applicationId: $applicationId, action: $action, first: $first, after: $after
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id action tokenName objectIds changes createdAt } }
  }
}
"""

AUDIT_NODE = """
query($id: ID!) { node(id: $id) { ... on AuditEntry { action } } }
"""

REFRESH = """
mutation($applicationId: ID!) {
  refreshProvisioning(input: {applicationId: $applicationId}) {
    refreshRun { id } errors { code }
  }
}
"""

CREATE_ACCOUNT = """
mutation($applicationId: ID!, $userId: ID!) {
  createAccount(input: {applicationId: $applicationId, userId: $userId}) {
    account { id } errors { code message }
  }
}
"""


@pytest.fixture
async def viewer() -> AsyncIterator[GraphQLClient]:
    """The API over ASGI, authenticated as a viewer token named `auditor`."""
    from api.app import create_app

    async with session_scope() as session:
        _token, secret = await create_token(session, "auditor", TokenRole.VIEWER)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(run_worker=False)),
        base_url="http://smartlink.test",
        headers={"Authorization": f"Bearer {secret}"},
    ) as http:
        yield GraphQLClient(http)


def forbidden(body: dict[str, object]) -> list[tuple[str, str]]:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [(e["extensions"]["code"], e["message"]) for e in errors]


async def test_viewer_mutation_refused(
    api: GraphQLClient, viewer: GraphQLClient
) -> None:
    body = await viewer.execute(CREATE_APPLICATION)

    assert body["data"] is None
    assert forbidden(body) == [
        (
            "FORBIDDEN",
            "The API token 'auditor' has the viewer role, which may not run "
            "mutations. Use an admin token; an operator creates one with "
            "`smartlink create-token NAME --role admin`.",
        )
    ]
    assert (await api(APPLICATIONS))["applications"]["totalCount"] == 0
    assert (await api(AUDIT_LOG))["auditLog"]["totalCount"] == 0


async def test_viewer_can_query(api: GraphQLClient, viewer: GraphQLClient) -> None:
    await create_application(api, "Acme CRM")

    data = await viewer(APPLICATIONS)

    assert data["applications"] == {
        "totalCount": 1,
        "edges": [{"node": {"name": "Acme CRM"}}],
    }


async def test_viewer_cannot_read_raw_json(
    api: GraphQLClient,
    viewer: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
) -> None:
    scim_target.create_user("grace@example.com")
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)

    as_admin = await api(ACCOUNTS.replace("RAW", "raw"), id=application_id)
    as_viewer = await viewer.execute(ACCOUNTS.replace("RAW", "raw"), id=application_id)
    without_raw = await viewer(ACCOUNTS.replace("RAW", ""), id=application_id)

    edges = as_admin["node"]["provisioning"]["accounts"]["edges"]
    assert edges[0]["node"]["raw"]["userName"] == "grace@example.com"
    assert as_viewer["data"] == {"node": None}
    assert forbidden(as_viewer) == [
        (
            "FORBIDDEN",
            "The API token 'auditor' has the viewer role, which may not read raw "
            "SCIM JSON (`raw` fields). Use an admin token; an operator creates one "
            "with `smartlink create-token NAME --role admin`.",
        )
    ]
    assert without_raw["node"]["provisioning"]["accounts"]["edges"] == [
        {"node": {"userName": "grace@example.com"}}
    ]


async def test_viewer_cannot_read_schema(
    api: GraphQLClient,
    viewer: GraphQLClient,
    scim_target: ScimTenant,
    job_worker: None,
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)

    body = await viewer.execute(SCHEMA, id=application_id)

    assert body["data"] == {
        "node": {"provisioning": {"status": "CONNECTED", "schema": None}}
    }
    assert [code for code, _ in forbidden(body)] == ["FORBIDDEN"]
    assert "may not read the target's schema documents" in forbidden(body)[0][1]
    admin = await api(SCHEMA, id=application_id)
    assert admin["node"]["provisioning"]["schema"]["schemas"] != []


async def test_viewer_cannot_read_audit_log(
    api: GraphQLClient, viewer: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await create_application(api)
    await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=scim_target.base_url,
        token=scim_target.token,
    )
    entry_id = (await api(AUDIT_LOG))["auditLog"]["edges"][0]["node"]["id"]

    listed = await viewer.execute(AUDIT_LOG)
    fetched = await viewer.execute(AUDIT_NODE, id=entry_id)

    assert listed["data"] is None
    assert [code for code, _ in forbidden(listed)] == ["FORBIDDEN"]
    assert "may not read the audit log" in forbidden(listed)[0][1]
    assert fetched["data"] == {"node": None}
    assert [code for code, _ in forbidden(fetched)] == ["FORBIDDEN"]
    assert (await api(AUDIT_NODE, id=entry_id))["node"] == {
        "action": "configureProvisioning"
    }


async def test_audit_of_connection_changes(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    # Given an application configured, re-keyed, then moved to another URL
    application_id = await create_application(api)
    other_url = scim_target.base_url + "-moved"
    for base_url, token in (
        (scim_target.base_url, scim_target.token),
        (scim_target.base_url, scim_target.token),
        (other_url, None),
    ):
        await api(
            CONFIGURE, applicationId=application_id, baseUrl=base_url, token=token
        )

    # When an admin reads the audit log
    body = await api.execute(AUDIT_LOG, applicationId=application_id)

    # Then each change is there, newest first, without the token
    log = body["data"]["auditLog"]
    entries = [edge["node"] for edge in log["edges"]]
    assert log["totalCount"] == 3
    assert [e["action"] for e in entries] == ["configureProvisioning"] * 3
    assert [e["tokenName"] for e in entries] == ["tests"] * 3
    assert [e["changes"] for e in entries] == [
        {
            "baseUrl": {"old": scim_target.base_url, "new": other_url},
            "token": "cleared",
        },
        {"token": "replaced"},
        {"baseUrl": {"old": None, "new": scim_target.base_url}, "token": "set"},
    ]
    assert entries[0]["objectIds"] == [application_id]
    assert scim_target.token not in str(body)


async def test_audit_of_refresh_and_account(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    user_id = await create_user(api, "ada@example.com")
    await grant_access(api, user_id, application_id)

    refresh = await api(REFRESH, applicationId=application_id)
    created = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)

    account_id = created["createAccount"]["account"]["id"]
    run_id = refresh["refreshProvisioning"]["refreshRun"]["id"]
    log = (await api(AUDIT_LOG, applicationId=application_id))["auditLog"]
    entries = [edge["node"] for edge in log["edges"]]
    assert [e["action"] for e in entries] == [
        "createAccount",
        "refreshProvisioning",
        "configureProvisioning",
    ]
    assert set(entries[0]["objectIds"]) == {application_id, user_id, account_id}
    assert entries[0]["changes"]["user"]["old"] is None
    assert list(entries[0]["changes"]) == ["user", "scimId"]
    assert set(entries[1]["objectIds"]) == {application_id, run_id}
    assert entries[1]["changes"] == {}


async def test_audit_log_filters_and_pages(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    first_id = await create_application(api, "First")
    second_id = await create_application(api, "Second")
    for application_id in (first_id, second_id, second_id):
        await api(
            CONFIGURE,
            applicationId=application_id,
            baseUrl=scim_target.base_url,
            token=scim_target.token,
        )

    first = (await api(AUDIT_LOG, applicationId=first_id))["auditLog"]
    page = (await api(AUDIT_LOG, first=2))["auditLog"]
    rest = (await api(AUDIT_LOG, first=2, after=page["pageInfo"]["endCursor"]))[
        "auditLog"
    ]
    none = (await api(AUDIT_LOG, action="deleteAccount"))["auditLog"]
    bad = await api.execute(AUDIT_LOG, applicationId="not-an-id")

    assert first["totalCount"] == 1
    assert [e["node"]["objectIds"] for e in first["edges"]] == [[first_id]]
    assert page["totalCount"] == 3
    assert len(page["edges"]) == 2
    assert page["pageInfo"]["hasNextPage"] is True
    assert len(rest["edges"]) == 1
    assert none["totalCount"] == 0
    assert bad["data"] is None
    assert [e["extensions"]["code"] for e in bad["errors"]] == ["INVALID"]
