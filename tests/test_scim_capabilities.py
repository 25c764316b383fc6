"""What a target supports: discovery, overrides, and the PATCH or PUT it takes.

Each test runs the product's own operations (connect, automatic updates)
against the fake SCIM server, which reproduces one target's behaviour.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fake_scim import (
    SCIM_JSON,
    FakeResponse,
    FakeScim,
    default_service_provider_config,
    make_users,
)
from tests.support.fixtures import (
    CONFIGURE,
    connect,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient

CAPABILITIES = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        capabilities {
          patch { supported source }
          filter { supported source }
          bulk { supported source }
          etag { supported source }
          maxResults { value source }
          maxOperations { value source }
          problems
        }
        schema { serviceProviderConfig }
      }
    }
  }
}
"""

UPDATE_CAPABILITIES = """
mutation($input: UpdateScimCapabilitiesInput!) {
  updateScimCapabilities(input: $input) {
    provisioning { capabilities { patch { supported source } maxResults { value } } }
    errors { code message field }
  }
}
"""

UPDATE_USER = """
mutation($u: ID!, $familyName: String) {
  updateUser(input: {userId: $u, familyName: $familyName}) { errors { message } }
}
"""

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

ALL_AUTOMATIC = {
    "userGainsAccess": "AUTOMATIC",
    "userLosesAccess": "AUTOMATIC",
    "userDeactivated": "AUTOMATIC",
    "userUpdated": "AUTOMATIC",
}


async def capabilities(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    data = await api(CAPABILITIES, id=application_id)
    provisioning: dict[str, Any] = data["node"]["provisioning"]
    return provisioning


async def provisioned(api: GraphQLClient, fake: FakeScim) -> tuple[str, str, str]:
    """Connect an automatic application and let it create Ada's account.

    Returns the application id, the user id and the account's SCIM id.
    """
    application_id = await create_application(api)
    await connect(api, application_id, fake)  # type: ignore[arg-type]
    await update_settings(api, application_id, **ALL_AUTOMATIC)
    user_id = await create_user(
        api, "ada@example.org", givenName="Ada", familyName="Byron"
    )
    await grant_access(api, user_id, application_id)
    await settled()
    [resource] = fake.users.resources
    return application_id, user_id, str(resource["id"])


async def settled() -> None:
    await wait_until(outbox_settled, timeout=60, what="automatic events")


async def rename(api: GraphQLClient, user_id: str, family_name: str) -> None:
    data = await api(UPDATE_USER, u=user_id, familyName=family_name)
    assert data["updateUser"]["errors"] == []
    await settled()


async def operations(api: GraphQLClient, application_id: str) -> list[dict[str, Any]]:
    data = await api(OPERATIONS, id=application_id)
    edges = data["node"]["provisioning"]["operations"]["edges"]
    return [edge["node"] for edge in reversed(edges)]


def methods(fake: FakeScim, scim_id: str) -> list[str]:
    """The methods of the requests to one user, in order."""
    return [r.method for r in fake.requests if r.path == f"/Users/{scim_id}"]


async def test_missing_config_uses_defaults(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.service_provider_config = None
    application_id = await create_application(api)

    run = await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    assert run["status"] == "SUCCEEDED"
    provisioning = await capabilities(api, application_id)
    default = {"supported": False, "source": "DEFAULT"}
    assert provisioning["capabilities"] == {
        "patch": default,
        "filter": default,
        "bulk": default,
        "etag": default,
        "maxResults": {"value": None, "source": "DEFAULT"},
        "maxOperations": {"value": None, "source": "DEFAULT"},
        "problems": [
            "The target publishes no ServiceProviderConfig, so updates use GET and "
            "PUT, lookups page through the resources, and bulk and ETags are not "
            "used."
        ],
    }
    assert provisioning["schema"] == {"serviceProviderConfig": {}}


async def test_html_config_page_uses_defaults(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.inject("/ServiceProviderConfig", FakeResponse.html(404))
    application_id = await create_application(api)

    run = await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    assert run["status"] == "SUCCEEDED"
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"]["patch"] == {
        "supported": False,
        "source": "DEFAULT",
    }


async def test_malformed_parts_disable_only_them(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.resources = make_users(3)
    fake_scim.service_provider_config = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "PATCH": {"Supported": "true"},
        "filter": {"supported": 1, "maxResults": "2"},
        "bulk": {"supported": True, "maxPayloadSize": 1048576},
        "etag": "yes",
        "authenticationSchemes": [],
    }
    application_id = await create_application(api)

    run = await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    assert run["status"] == "SUCCEEDED"
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"] == {
        "patch": {"supported": True, "source": "TARGET"},
        "filter": {"supported": True, "source": "TARGET"},
        "bulk": {"supported": False, "source": "DEFAULT"},
        "etag": {"supported": False, "source": "DEFAULT"},
        "maxResults": {"value": 2, "source": "TARGET"},
        "maxOperations": {"value": None, "source": "DEFAULT"},
        "problems": [
            "etag is not an object, so it is treated as unsupported",
            "bulk.maxOperations is missing or not a positive integer (None), so "
            "bulk is treated as unsupported",
        ],
    }
    # filter.maxResults caps the pages of the refresh.
    assert run["accountsRead"] == 3
    assert fake_scim.pages_read("/Users")[1:] == [(1, 2), (3, 2)]


async def test_optional_discovery_not_implemented(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.inject("/Schemas", FakeResponse.scim_error(501, "Not implemented."))
    fake_scim.inject("/ResourceTypes", FakeResponse(404, text="Not Found"))
    application_id = await create_application(api)

    run = await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    assert run["status"] == "SUCCEEDED"


async def test_failed_connection_has_no_capabilities(
    api: GraphQLClient, fake_scim: FakeScim
) -> None:
    application_id = await create_application(api)

    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=fake_scim.base_url, token="x"
    )

    assert data["configureProvisioning"]["provisioning"]["status"] == "FAILED"
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"] is None
    assert provisioning["schema"] is None


async def test_override_and_remove_override(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    data = await api(
        UPDATE_CAPABILITIES,
        input={"applicationId": application_id, "patch": False, "maxResults": 20},
    )

    payload = data["updateScimCapabilities"]
    assert payload["errors"] == []
    assert payload["provisioning"]["capabilities"] == {
        "patch": {"supported": False, "source": "OVERRIDE"},
        "maxResults": {"value": 20},
    }

    data = await api(
        UPDATE_CAPABILITIES, input={"applicationId": application_id, "patch": None}
    )

    # maxResults, left out, keeps its override.
    assert data["updateScimCapabilities"]["provisioning"]["capabilities"] == {
        "patch": {"supported": True, "source": "TARGET"},
        "maxResults": {"value": 20},
    }


async def test_override_rejects_bad_limit(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, fake_scim)  # type: ignore[arg-type]

    data = await api(
        UPDATE_CAPABILITIES, input={"applicationId": application_id, "maxResults": 0}
    )

    payload = data["updateScimCapabilities"]
    assert payload["provisioning"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID", ["maxResults"])
    ]
    assert "not 0" in payload["errors"][0]["message"]
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"]["maxResults"] == {
        "value": 1000,
        "source": "TARGET",
    }


async def test_override_needs_connection(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(
        UPDATE_CAPABILITIES, input={"applicationId": application_id, "patch": True}
    )

    payload = data["updateScimCapabilities"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("NOT_CONNECTED", ["applicationId"])
    ]
    assert (await capabilities(api, application_id))["capabilities"] is None


async def test_patch_override_updates_by_put(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    await api(
        UPDATE_CAPABILITIES, input={"applicationId": application_id, "patch": False}
    )

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["GET", "PUT"]
    [resource] = fake_scim.users.resources
    assert resource["name"] == {"givenName": "Ada", "familyName": "Lovelace"}


async def test_patch_not_implemented_falls_back(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse.scim_error(501, "PATCH is not implemented."),
        method="PATCH",
    )

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["PATCH", "GET", "PUT"]
    [resource] = fake_scim.users.resources
    assert resource["name"]["familyName"] == "Lovelace"
    assert (await operations(api, application_id))[-1] == {
        "action": "UPDATE_ACCOUNT",
        "status": "SUCCEEDED",
        "targetStatus": 200,
        "error": None,
    }
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"]["patch"] == {
        "supported": False,
        "source": "LEARNED",
    }

    await rename(api, user_id, "King")

    # The connection remembers that PUT works, so PATCH is not tried again.
    assert methods(fake_scim, scim_id) == ["PATCH", "GET", "PUT", "GET", "PUT"]
    assert fake_scim.users.resources[0]["name"]["familyName"] == "King"


async def test_patch_bad_request_falls_back(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse.scim_error(400, "Unsupported operation.", "invalidSyntax"),
        method="PATCH",
    )

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["PATCH", "GET", "PUT"]
    assert fake_scim.users.resources[0]["name"]["familyName"] == "Lovelace"


async def test_put_rejected_falls_back_to_patch(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    config = default_service_provider_config()
    config["patch"] = {"supported": False}
    fake_scim.service_provider_config = config
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse(405, text="Method Not Allowed", content_type="text/plain"),
        method="PUT",
    )

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["GET", "PUT", "PATCH"]
    assert fake_scim.users.resources[0]["name"]["familyName"] == "Lovelace"
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"]["patch"] == {
        "supported": True,
        "source": "LEARNED",
    }


async def test_both_methods_rejected(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse.scim_error(400, "familyName is too long.", "invalidValue"),
        method="PATCH",
    )
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse.scim_error(400, "The body is invalid.", "invalidSyntax"),
        method="PUT",
    )

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["PATCH", "GET", "PUT"]
    assert fake_scim.users.resources[0]["name"]["familyName"] == "Byron"
    failed = (await operations(api, application_id))[-1]
    assert failed["status"] == "FAILED"
    assert failed["targetStatus"] == 400
    # The first method's rejection is the one reported.
    assert "familyName is too long." in failed["error"]
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"]["patch"] == {
        "supported": True,
        "source": "TARGET",
    }


async def test_patch_without_body_reads_back(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.users.patch_status = 204

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["PATCH", "GET"]
    assert (await operations(api, application_id))[-1]["status"] == "SUCCEEDED"


async def test_put_404_after_get_is_routing(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    config = default_service_provider_config()
    config["patch"] = {"supported": False}
    fake_scim.service_provider_config = config
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse.scim_error(404, "Resource not found."),
        method="PUT",
    )

    await rename(api, user_id, "Lovelace")

    assert methods(fake_scim, scim_id) == ["GET", "PUT"]
    assert fake_scim.users.resources[0]["name"]["familyName"] == "Byron"
    failed = (await operations(api, application_id))[-1]
    assert failed["status"] == "FAILED"
    assert failed["targetStatus"] == 404
    assert "right after GET of the same URL returned 200" in failed["error"]
    assert "check that the base URL" in failed["error"]


async def test_reconnect_forgets_learned_method(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    application_id, user_id, scim_id = await provisioned(api, fake_scim)
    fake_scim.inject(
        f"/Users/{scim_id}",
        FakeResponse.scim_error(501, "PATCH is not implemented."),
        method="PATCH",
        times=1,
    )
    await rename(api, user_id, "Lovelace")

    data = await api(
        CONFIGURE, applicationId=application_id, baseUrl=fake_scim.base_url
    )

    assert data["configureProvisioning"]["errors"] == []
    provisioning = await capabilities(api, application_id)
    assert provisioning["capabilities"]["patch"] == {
        "supported": True,
        "source": "TARGET",
    }


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain",
        "text/html; charset=utf-8",
        f"{SCIM_JSON}; charset=utf-8",
    ],
)
async def test_odd_content_types_accepted(
    api: GraphQLClient, fake_scim: FakeScim, automation: None, content_type: str
) -> None:
    fake_scim.content_type = content_type
    application_id, user_id, scim_id = await provisioned(api, fake_scim)

    await rename(api, user_id, "Lovelace")

    [resource] = fake_scim.users.resources
    assert resource["name"]["familyName"] == "Lovelace"
    assert (await operations(api, application_id))[-1]["status"] == "SUCCEEDED"
