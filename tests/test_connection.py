"""The Configuration tab against a real scim2-server."""

from __future__ import annotations

from tests.support.fixtures import CONFIGURE, connect, create_application
from tests.support.graphql import GraphQLClient
from tests.support.scim2_server import ScimTenant, free_port

SCHEMA = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        status
        connection { baseUrl tokenConfigured lastCheckedAt lastError }
        schema { serviceProviderConfig resourceTypes schemas }
      }
    }
  }
}
"""


async def test_connect_reads_discovery(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)

    run = await connect(api, application_id, scim_target)

    assert run["status"] == "SUCCEEDED"
    provisioning = (await api(SCHEMA, id=application_id))["node"]["provisioning"]
    assert provisioning["status"] == "CONNECTED"
    assert provisioning["connection"]["baseUrl"] == scim_target.base_url
    assert provisioning["connection"]["tokenConfigured"] is True
    assert provisioning["connection"]["lastError"] is None
    schema = provisioning["schema"]
    assert schema["serviceProviderConfig"]["patch"] == {"supported": True}
    assert {r["name"] for r in schema["resourceTypes"]} == {"User", "Group"}
    schema_ids = {s["id"] for s in schema["schemas"]}
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in schema_ids


async def test_wrong_target_token_fails(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl=scim_target.base_url,
        token="not-the-token",
    )

    payload = data["configureProvisioning"]
    assert [e["code"] for e in payload["errors"]] == ["TARGET_UNAUTHORIZED"]
    assert "401" in payload["errors"][0]["message"]
    assert "token" in payload["errors"][0]["message"]
    assert payload["refreshRun"] is None
    assert payload["provisioning"]["status"] == "FAILED"
    assert (
        payload["provisioning"]["connection"]["lastError"]
        == payload["errors"][0]["message"]
    )


async def test_unreachable_base_url_fails(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    base_url = f"http://127.0.0.1:{free_port()}/scim/v2"

    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=base_url, token="t"
    )

    payload = data["configureProvisioning"]
    assert [e["code"] for e in payload["errors"]] == ["TARGET_UNREACHABLE"]
    assert base_url in payload["errors"][0]["message"]
    assert payload["provisioning"]["status"] == "FAILED"


async def test_invalid_base_url_names_field(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl="ftp://x", token="t"
    )

    errors = data["configureProvisioning"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["baseUrl"])]
    assert "'ftp://x'" in errors[0]["message"]
    assert data["configureProvisioning"]["provisioning"] is None


async def test_private_host_needs_allow_list(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl="http://10.1.2.3/scim",
        token="t",
    )

    errors = data["configureProvisioning"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("OUTBOUND_REJECTED", ["baseUrl"])
    ]
    assert "SMARTLINK_OUTBOUND_ALLOW" in errors[0]["message"]


async def test_token_never_returned(
    api: GraphQLClient, scim_target: ScimTenant, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)

    body = await api.execute(SCHEMA, id=application_id)

    assert scim_target.token not in str(body)


async def test_non_ascii_token_rejected(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(
        CONFIGURE,
        applicationId=application_id,
        baseUrl="http://127.0.0.1:9/scim",
        token="tok\u00e9n",
    )

    errors = data["configureProvisioning"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["token"])]
    assert "printable ASCII" in errors[0]["message"]
    assert data["configureProvisioning"]["provisioning"] is None
