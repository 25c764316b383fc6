"""Settings changes and deletions in the target are written to the audit log."""

from __future__ import annotations

from typing import Any

from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    update_settings,
)
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant

AUDIT_LOG = """
query($applicationId: ID, $action: String) {
  auditLog(applicationId: $applicationId, action: $action) {
    edges { node { action tokenName objectIds changes } }
  }
}
"""

DELETE_ACCOUNT = """
mutation($accountId: ID!) {
  deleteAccount(input: {accountId: $accountId}) { errors { code message } }
}
"""


async def _entries(
    api: GraphQLClient, application_id: str, action: str
) -> list[dict[str, Any]]:
    data = await api(AUDIT_LOG, applicationId=application_id, action=action)
    return [edge["node"] for edge in data["auditLog"]["edges"]]


async def test_settings_change_audited(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    await update_settings(
        api, application_id, userGainsAccess="AUTOMATIC", massDeprovisionThreshold=5
    )

    [entry] = await _entries(api, application_id, "updateProvisioningSettings")
    assert entry["tokenName"] == "tests"
    assert entry["objectIds"] == [application_id]
    assert entry["changes"] == {
        "user_gains_access": {"old": "MANUAL", "new": "AUTOMATIC"},
        "mass_deprovision_threshold": {"old": 10, "new": 5},
    }


async def test_account_deletion_audited(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    user_id = await create_user(api, "ada@example.org")
    await grant_access(api, user_id, application_id)
    account = await create_account(api, application_id, user_id)

    data = await api(DELETE_ACCOUNT, accountId=account["id"])

    assert data["deleteAccount"]["errors"] == []
    [entry] = await _entries(api, application_id, "deleteAccount")
    assert set(entry["objectIds"]) == {application_id, user_id, account["id"]}
    assert entry["changes"] == {
        "scimId": {"old": account["scimId"], "new": None},
        "alreadyDeleted": False,
    }
