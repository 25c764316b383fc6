"""Clearing a SmartLink field removes the attribute it is mapped to in the target.

Updates run in automatic mode against real targets. scim2-server applies PATCH
`remove` operations, filtered ones such as `phoneNumbers[type eq "work"]`
included. A scim2-server announcing no PATCH support gets a PUT, and the
`target` cases run on SCIMMY too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    refresh,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient
from tests.support.mapping import ACME, acme_server, update_mapping, with_entries
from tests.support.scim2_server import Scim2Server, ScimTenant

UPDATE_USER = """
mutation($u: ID!, $title: String, $phoneNumber: String, $department: String) {
  updateUser(input: {
    userId: $u, title: $title, phoneNumber: $phoneNumber, department: $department
  }) {
    errors { code message }
  }
}
"""

DRIFTED = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        accounts(drifted: true) { edges { node { userName drift { path } } } }
      }
    }
  }
}
"""

pytestmark = pytest.mark.usefixtures("job_worker")

TITLE = {"path": "title", "source": "FIELD", "value": "title"}

WORK_PHONE = [
    {
        "path": 'phoneNumbers[type eq "work"].value',
        "source": "FIELD",
        "value": "phoneNumber",
    },
    {
        "path": 'phoneNumbers[type eq "work"].primary',
        "source": "CONSTANT",
        "value": "true",
    },
]

HOME_PHONE = {"value": "+44 20 7946 0000", "type": "home"}


@pytest.fixture(scope="module")
def acme(
    scim2_server: Scim2Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scim2Server]:
    yield from acme_server(scim2_server, tmp_path_factory.mktemp("acme"))


async def linked_ada(
    api: GraphQLClient,
    target: ScimTenant,
    entries: list[dict[str, str]],
    **fields: str,
) -> tuple[str, str, str]:
    """Map `entries`, provision Ada with `fields`, and turn updates automatic.

    Returns the application's id, Ada's id and her account's SCIM id.
    """
    application_id = await create_application(api)
    await connect(api, application_id, target)
    payload = await update_mapping(api, application_id, "USER", entries)
    assert payload["errors"] == []
    user_id = await create_user(
        api, "ada@example.org", givenName="Ada", familyName="Lovelace"
    )
    data = await api(UPDATE_USER, u=user_id, **fields)
    assert data["updateUser"]["errors"] == []
    await grant_access(api, user_id, application_id)
    account = await create_account(api, application_id, user_id)
    await update_settings(api, application_id, userUpdated="AUTOMATIC")
    return application_id, user_id, account["scimId"]


async def update_ada(api: GraphQLClient, user_id: str, **fields: str) -> None:
    data = await api(UPDATE_USER, u=user_id, **fields)
    assert data["updateUser"]["errors"] == []
    await wait_until(outbox_settled, what="the update event")


async def drifted(api: GraphQLClient, application_id: str) -> list[dict[str, Any]]:
    data = await api(DRIFTED, id=application_id)
    edges = data["node"]["provisioning"]["accounts"]["edges"]
    return [edge["node"] for edge in edges]


def stored(target: ScimTenant, scim_id: str) -> dict[str, Any]:
    resource = target.user(scim_id)
    assert resource is not None, f"the target has no user {scim_id}"
    return resource


async def test_cleared_title_removed(
    api: GraphQLClient, target: ScimTenant, automation: None
) -> None:
    application_id, user_id, scim_id = await linked_ada(
        api, target, with_entries(TITLE), title="Countess"
    )
    assert stored(target, scim_id)["title"] == "Countess"
    # An attribute the mapping does not cover, set by the target's admin.
    target.replace_attribute("Users", scim_id, "nickName", "Enchantress")

    await update_ada(api, user_id, title="")

    resource = stored(target, scim_id)
    assert "title" not in resource
    assert resource["nickName"] == "Enchantress"
    assert resource["userName"] == "ada@example.org"
    assert resource["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    await refresh(api, application_id)
    assert await drifted(api, application_id) == []


async def test_cleared_phone_removes_work_value(
    api: GraphQLClient, target: ScimTenant, automation: None
) -> None:
    application_id, user_id, scim_id = await linked_ada(
        api, target, with_entries(*WORK_PHONE), phoneNumber="+44 20 7946 0958"
    )
    [work] = stored(target, scim_id)["phoneNumbers"]
    assert work["value"] == "+44 20 7946 0958"
    target.replace_attribute("Users", scim_id, "phoneNumbers", [work, HOME_PHONE])

    await update_ada(api, user_id, phoneNumber="")

    phone_numbers = stored(target, scim_id)["phoneNumbers"]
    assert [(p["type"], p["value"]) for p in phone_numbers] == [
        ("home", HOME_PHONE["value"])
    ]
    # The `primary` entry went with the work value, so nothing drifts.
    await refresh(api, application_id)
    assert await drifted(api, application_id) == []


async def test_work_phone_left_out_when_empty(
    api: GraphQLClient, scim_target: ScimTenant
) -> None:
    application_id = await create_application(api)
    await connect(api, application_id, scim_target)
    payload = await update_mapping(
        api, application_id, "USER", with_entries(*WORK_PHONE)
    )
    assert payload["errors"] == []
    user_id = await create_user(api, "grace@example.org", givenName="Grace")
    await grant_access(api, user_id, application_id)

    account = await create_account(api, application_id, user_id)

    # No value with a `primary` but no number.
    assert "phoneNumbers" not in stored(scim_target, account["scimId"])


async def test_put_update_drops_cleared_attributes(
    api: GraphQLClient, put_only_target: ScimTenant, automation: None
) -> None:
    target = put_only_target
    _, user_id, scim_id = await linked_ada(
        api,
        target,
        with_entries(TITLE, *WORK_PHONE),
        title="Countess",
        phoneNumber="+44 20 7946 0958",
    )
    resource = stored(target, scim_id)
    resource["phoneNumbers"].append(HOME_PHONE)
    target.replace_user(scim_id, resource)

    await update_ada(api, user_id, title="", phoneNumber="")

    resource = stored(target, scim_id)
    assert "title" not in resource
    assert [p["type"] for p in resource["phoneNumbers"]] == ["home"]
    assert resource["userName"] == "ada@example.org"
    assert resource["displayName"] == "Ada Lovelace"


async def test_required_attribute_never_removed(
    api: GraphQLClient,
    acme: Scim2Server,
    automation: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="domain.mapping.changes")
    target = acme.tenant()
    cost_code = {"path": f"{ACME}:costCode", "source": "FIELD", "value": "department"}
    application_id, user_id, scim_id = await linked_ada(
        api, target, with_entries(TITLE, cost_code), title="Countess", department="CC-7"
    )
    assert stored(target, scim_id)[ACME] == {"costCode": "CC-7"}

    await update_ada(api, user_id, title="", department="")

    resource = stored(target, scim_id)
    assert "title" not in resource
    assert resource[ACME] == {"costCode": "CC-7"}
    warnings = [r.getMessage() for r in caplog.records]
    assert any(
        f"Not removing {ACME}:costCode from account {scim_id!r}" in message
        for message in warnings
    ), warnings
    await refresh(api, application_id)
    assert await drifted(api, application_id) == []
