"""What targets send that the RFCs do not, read by refresh and createAccount.

Each test has the fake SCIM server reproduce one real target's quirk over HTTP
and runs the product's own operation against it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from domain.scim.capabilities import read_service_provider_config
from domain.scim.client import ScimClient
from domain.scim.lookup import Criterion, find_first
from domain.scim.payloads import account_fields
from tests.support.fake_scim import (
    USER_SCHEMA,
    FakeResponse,
    FakeScim,
    Filtering,
    default_service_provider_config,
    int_ids,
    make_users,
)
from tests.support.fixtures import (
    CREATE_ACCOUNT,
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    node_uuid,
    refresh,
)
from tests.support.graphql import GraphQLClient

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

ACCOUNTS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(first: 50) {
          edges { node { scimId userName displayName email active externalId } }
        }
        groups(first: 50) { edges { node { scimId displayName memberCount } } }
        operations { edges { node { action status targetStatus error } } }
      }
    }
  }
}
"""


async def tabs(api: GraphQLClient, application_id: str) -> dict[str, Any]:
    data = await api(ACCOUNTS, id=application_id)
    provisioning = data["node"]["provisioning"]
    return {
        name: [edge["node"] for edge in provisioning[name]["edges"]]
        for name in ("accounts", "groups", "operations")
    }


async def connected(api: GraphQLClient, fake: FakeScim) -> str:
    application_id = await create_application(api)
    run = await connect(api, application_id, fake)  # type: ignore[arg-type]
    assert run["status"] == "SUCCEEDED"
    return application_id


async def ada_with_access(api: GraphQLClient, application_id: str) -> str:
    user_id = await create_user(api, "ada@example.org", givenName="Ada")
    await grant_access(api, user_id, application_id)
    return user_id


def filters_sent(fake: FakeScim) -> list[str]:
    return [
        r.params["filter"] for r in fake.requests_to("/Users") if "filter" in r.params
    ]


def listings_sent(fake: FakeScim) -> int:
    return len([r for r in fake.requests_to("/Users") if "filter" not in r.params])


async def test_refresh_reads_quirky_users(
    api: GraphQLClient,
    fake_scim: FakeScim,
    job_worker: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="domain.scim.payloads")
    unknown = f"x-quirk-{uuid.uuid4().hex[:8]}"
    fake_scim.users.resources = [
        {
            "id": 101,
            "UserName": "ada@example.org",
            "Active": "False",
            "displayName": "",
            "externalId": "",
            "emails": [
                {"value": "ada.home@example.org", "type": "home"},
                {"value": "ada@example.org", "type": "Work"},
            ],
            unknown: True,
        },
        {
            "id": "b 2",
            f"{USER_SCHEMA}:userName": "bob@example.org",
            "active": 1,
            "emails": {"value": "bob@example.org"},
            ENTERPRISE: {"employeeNumber": "42"},
            unknown: False,
        },
        {
            "id": "c3",
            "userName": "cy@example.org",
            "active": "TRUE",
            "emails": [
                {"value": "cy.one@example.org", "primary": "true"},
                {"value": "cy.two@example.org", "primary": True, "type": "work"},
            ],
        },
        {
            "id": "d4",
            "userName": "dee@example.org",
            "active": 0,
            "emails": "dee@example.org",
            "name": "Dee",
            USER_SCHEMA: {"displayName": "Dee D."},
        },
    ]

    application_id = await connected(api, fake_scim)
    await refresh(api, application_id)

    accounts = {a["scimId"]: a for a in (await tabs(api, application_id))["accounts"]}
    assert accounts == {
        "101": {
            "scimId": "101",
            "userName": "ada@example.org",
            "displayName": None,
            "email": "ada@example.org",
            "active": False,
            "externalId": None,
        },
        "b 2": {
            "scimId": "b 2",
            "userName": "bob@example.org",
            "displayName": None,
            "email": "bob@example.org",
            "active": True,
            "externalId": None,
        },
        "c3": {
            "scimId": "c3",
            "userName": "cy@example.org",
            "displayName": None,
            "email": "cy.two@example.org",
            "active": True,
            "externalId": None,
        },
        "d4": {
            "scimId": "d4",
            "userName": "dee@example.org",
            "displayName": "Dee D.",
            "email": "dee@example.org",
            "active": False,
            "externalId": None,
        },
    }
    # Two refreshes read the unknown key on two resources each time.
    logged = [r for r in caplog.records if unknown in r.getMessage()]
    assert len(logged) == 1


async def test_refresh_reads_quirky_groups(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.groups.resources = [
        {"id": 7, "displayName": "Staff", "members": {"value": 101}},
        {"id": "g2", "displayName": "", "members": ["101", "c3"]},
        {"id": "g3", "DisplayName": "Empty", "members": None},
        {"id": "g4", "displayName": "Counted", "members": 5},
        {
            "id": "g5",
            "displayName": "Mixed",
            "members": [{"value": "c3"}, {"display": "no value"}, "d4", True],
        },
    ]

    application_id = await connected(api, fake_scim)

    groups = (await tabs(api, application_id))["groups"]
    assert sorted(
        (g["scimId"], g["displayName"], g["memberCount"]) for g in groups
    ) == [
        ("7", "Staff", 1),
        ("g2", "g2", 2),
        ("g3", "Empty", 0),
        ("g4", "Counted", 0),
        ("g5", "Mixed", 2),
    ]


async def test_html_page_is_not_scim(api: GraphQLClient, fake_scim: FakeScim) -> None:
    login = "<!DOCTYPE html><html><body>Sign in</body></html>"
    fake_scim.inject(
        "/ServiceProviderConfig", FakeResponse(200, text=login, content_type="")
    )
    application_id = await create_application(api)

    data = await api(
        "mutation($a: ID!, $u: String!, $t: String) { configureProvisioning("
        "input: {applicationId: $a, baseUrl: $u, token: $t}) "
        "{ errors { code message } } }",
        a=application_id,
        u=fake_scim.base_url,
        t=fake_scim.token,
    )

    [error] = data["configureProvisioning"]["errors"]
    assert error["code"] == "NOT_SCIM"
    assert "HTML page instead of SCIM JSON" in error["message"]


async def test_created_without_location(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.omit_location = True
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)

    account = await create_account(api, application_id, user_id)

    [resource] = fake_scim.users.resources
    assert account["scimId"] == resource["id"]
    assert account["userName"] == "ada@example.org"


@pytest.mark.parametrize("relative", [False, True])
async def test_created_empty_body_follows_location(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None, relative: bool
) -> None:
    fake_scim.users.empty_created_body = True
    fake_scim.users.relative_location = relative
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)

    account = await create_account(api, application_id, user_id)

    [resource] = fake_scim.users.resources
    assert account["scimId"] == resource["id"]
    assert account["user"] == {"id": user_id, "email": "ada@example.org"}
    assert len(fake_scim.requests_to(f"/Users/{resource['id']}")) == 1
    assert filters_sent(fake_scim) == []


async def test_relative_meta_location_tolerated(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.relative_location = True
    fake_scim.users.omit_location = True
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)

    account = await create_account(api, application_id, user_id)
    await refresh(api, application_id)

    [resource] = fake_scim.users.resources
    assert resource["meta"]["location"].startswith("/f")
    assert account["scimId"] == resource["id"]
    [mirrored] = (await tabs(api, application_id))["accounts"]
    assert mirrored["scimId"] == resource["id"]


async def test_created_location_unreadable_looks_up(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.empty_created_body = True
    fake_scim.users.new_id = int_ids(start=500)
    fake_scim.inject("/Users/500", FakeResponse.scim_error(404, "Not yet."), times=1)
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "500"
    assert len(fake_scim.requests_to("/Users/500")) == 1
    assert filters_sent(fake_scim) == ['userName eq "ada@example.org"']


async def test_created_without_resource_looks_up(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.empty_created_body = True
    fake_scim.users.omit_location = True
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)

    account = await create_account(api, application_id, user_id)

    [resource] = fake_scim.users.resources
    assert account["scimId"] == resource["id"]
    assert filters_sent(fake_scim) == ['userName eq "ada@example.org"']
    operations = (await tabs(api, application_id))["operations"]
    assert [(o["status"], o["targetStatus"]) for o in operations] == [
        ("SUCCEEDED", 201)
    ]


async def test_integer_ids_created_and_adopted(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.new_id = int_ids(start=0)
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)

    account = await create_account(api, application_id, user_id)

    assert fake_scim.users.resources[0]["id"] == 0
    assert account["scimId"] == "0"


async def test_conflict_found_by_user_name(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    # Added after the first refresh, so only the target's 409 reveals it.
    fake_scim.users.resources = make_users(3) + [
        {"id": "existing", "userName": "ADA@Example.org", "active": True}
    ]

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    assert filters_sent(fake_scim) == ['userName eq "ada@example.org"']
    assert len(fake_scim.users.resources) == 4
    operations = (await tabs(api, application_id))["operations"]
    assert [(o["status"], o["targetStatus"]) for o in operations] == [
        ("SUCCEEDED", 409)
    ]


async def test_conflict_found_by_external_id(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.unique_attribute = "externalId"
    fake_scim.users.conflict_scim_type = None
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    external_id = node_uuid(user_id)
    fake_scim.users.resources = [
        {"id": "existing", "userName": "alovelace", "externalId": external_id.upper()}
    ]

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    assert filters_sent(fake_scim) == [
        'userName eq "ada@example.org"',
        f'externalId eq "{external_id}"',
    ]


async def test_conflict_found_by_email(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.unique_attribute = "emails.value"
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = [
        {
            "id": "existing",
            "userName": "alovelace",
            "emails": [{"value": "Ada@Example.org", "primary": True}],
        }
    ]

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    assert filters_sent(fake_scim) == [
        'userName eq "ada@example.org"',
        f'externalId eq "{node_uuid(user_id)}"',
        'emails.value eq "ada@example.org"',
    ]


async def test_conflict_with_ignored_filter(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.filtering = Filtering.IGNORE
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = (
        make_users(5)
        + [{"id": "existing", "userName": "ada@example.org"}]
        + make_users(5, start=6)
    )

    listed = listings_sent(fake_scim)

    account = await create_account(api, application_id, user_id)

    # The target returned eleven users for the filter; only one matches.
    assert account["scimId"] == "existing"
    assert filters_sent(fake_scim) == ['userName eq "ada@example.org"']
    assert listings_sent(fake_scim) == listed


async def test_conflict_with_ignored_filter_paged(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.filtering = Filtering.IGNORE
    fake_scim.users.max_page_size = 4
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = make_users(10) + [
        {"id": "existing", "userName": "ada@example.org"}
    ]

    account = await create_account(api, application_id, user_id)

    # Each filtered GET returned the first four users; reading every page
    # after the 409 found the account.
    assert account["scimId"] == "existing"
    assert len(filters_sent(fake_scim)) == 3
    assert fake_scim.pages_read("/Users")[-3:] == [(1, 100), (5, 100), (9, 100)]


async def test_conflict_with_case_sensitive_filter(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.filtering = Filtering.CASE_SENSITIVE
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = [{"id": "existing", "userName": "ADA@EXAMPLE.ORG"}]

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    assert len(filters_sent(fake_scim)) == 3


async def test_conflict_with_rejected_filter(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.users.filtering = Filtering.REJECT
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = [{"id": "existing", "userName": "ada@example.org"}]

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    assert filters_sent(fake_scim) == ['userName eq "ada@example.org"']


async def test_conflict_without_filter_support(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    config = default_service_provider_config()
    config["filter"] = {"supported": False, "maxResults": 0}
    fake_scim.service_provider_config = config
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = make_users(3) + [
        {"id": "existing", "userName": "Ada@example.org"}
    ]

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    assert filters_sent(fake_scim) == []


async def test_conflict_without_match_fails(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    fake_scim.inject(
        "/Users", FakeResponse.scim_error(409, "Duplicate."), method="POST"
    )
    application_id = await connected(api, fake_scim)
    user_id = await ada_with_access(api, application_id)
    fake_scim.users.resources = make_users(2)
    listed = listings_sent(fake_scim)

    data = await api(CREATE_ACCOUNT, applicationId=application_id, userId=user_id)

    payload = data["createAccount"]
    assert payload["account"] is None
    assert [e["code"] for e in payload["errors"]] == ["ALREADY_EXISTS"]
    assert "returned 409: Duplicate." in payload["errors"][0]["message"]
    assert len(filters_sent(fake_scim)) == 3
    # The filters found nothing, so every user was read before giving up.
    assert listings_sent(fake_scim) == listed + 2
    assert (await tabs(api, application_id))["accounts"] == []


async def test_filter_query_fully_encoded(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    application_id = await connected(api, fake_scim)
    user_id = await create_user(api, "ada+crm@example.org")
    await grant_access(api, user_id, application_id)
    fake_scim.users.resources = [{"id": "existing", "userName": "ada+crm@example.org"}]
    listed = listings_sent(fake_scim)

    account = await create_account(api, application_id, user_id)

    assert account["scimId"] == "existing"
    [search] = [r for r in fake_scim.requests_to("/Users") if "filter" in r.params]
    assert search.query == "filter=userName%20eq%20%22ada%2Bcrm%40example.org%22"
    # The filter matched, so no listing of every user followed.
    assert listings_sent(fake_scim) == listed


async def test_filter_value_escaped(fake_scim: FakeScim) -> None:
    value = 'say "hi" \\ back'
    fake_scim.users.resources = make_users(2) + [{"id": "odd", "userName": value}]
    capabilities = read_service_provider_config(default_service_provider_config())

    async with ScimClient(
        fake_scim.base_url, fake_scim.token, capabilities=capabilities
    ) as client:
        found = await find_first(
            client,
            "Users",
            [Criterion("userName", value, lambda r: account_fields(r).user_name)],
            page_size=10,
            scan=False,
        )

    assert found == {"id": "odd", "userName": value}
    assert filters_sent(fake_scim) == ['userName eq "say \\"hi\\" \\\\ back"']
