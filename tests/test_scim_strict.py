"""What strict targets accept: the bodies of account creations and updates.

The fake runs as a strict target: it rejects with 400 capitalised PATCH ops,
string booleans, canonical values not in lowercase, several primary values,
and attributes its User schema does not declare.
"""

from __future__ import annotations

from typing import Any

from domain.scim.outgoing import prepare_resource
from domain.scim.target_schema import TargetSchema
from tests.support.fake_scim import (
    USER_SCHEMA,
    FakeScim,
    default_service_provider_config,
)
from tests.support.fixtures import (
    connect,
    create_account,
    create_application,
    create_user,
    grant_access,
    outbox_settled,
    update_settings,
    wait_until,
)
from tests.support.graphql import GraphQLClient

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

DEACTIVATE = """
mutation($u: ID!) { deactivateUser(input: {userId: $u}) { errors { message } } }
"""

UPDATE_USER = """
mutation($u: ID!, $email: String, $familyName: String) {
  updateUser(input: {userId: $u, email: $email, familyName: $familyName}) {
    errors { message }
  }
}
"""

EVENTS = """
query { tickets(status: OPEN) { edges { node { event message } } } }
"""

SUB_ATTRIBUTES = {
    "name": ["givenName", "familyName"],
    "emails": ["value", "type", "primary"],
    "groups": ["value", "display"],
}


def attribute_type(name: str) -> str:
    if name in SUB_ATTRIBUTES:
        return "complex"
    return "boolean" if name in ("active", "primary") else "string"


def user_schema(*names: str, read_only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return a /Schemas resource declaring the User attributes `names`."""
    return {
        "id": USER_SCHEMA,
        "name": "User",
        "attributes": [
            {
                "name": name,
                "type": attribute_type(name),
                "multiValued": name in ("emails", "groups"),
                "mutability": "readOnly" if name in read_only else "readWrite",
                "subAttributes": [
                    {"name": sub, "type": attribute_type(sub)}
                    for sub in SUB_ATTRIBUTES.get(name, [])
                ],
            }
            for name in names
        ],
    }


def strict(fake: FakeScim, *names: str, patch: bool = True, **kwargs: Any) -> None:
    fake.strict = True
    fake.schemas = [user_schema(*names, **kwargs)]
    config = default_service_provider_config()
    config["patch"] = {"supported": patch}
    fake.service_provider_config = config


async def linked_ada(api: GraphQLClient, fake: FakeScim) -> tuple[str, str]:
    """Connect, give Ada access and create or link her account, in manual mode."""
    application_id = await create_application(api)
    await connect(api, application_id, fake)  # type: ignore[arg-type]
    user_id = await create_user(
        api, "ada@example.org", givenName="Ada", familyName="Byron"
    )
    await grant_access(api, user_id, application_id)
    await create_account(api, application_id, user_id)
    await update_settings(
        api, application_id, userDeactivated="AUTOMATIC", userUpdated="AUTOMATIC"
    )
    return application_id, user_id


async def settled() -> None:
    await wait_until(outbox_settled, timeout=60, what="automatic events")


def bodies(fake: FakeScim, method: str, path: str = "/Users") -> list[Any]:
    return [r.json for r in fake.requests_to(path, method=method)]


async def test_create_sends_declared_attributes(
    api: GraphQLClient, fake_scim: FakeScim, job_worker: None
) -> None:
    strict(fake_scim, "userName", "name", "emails", "active")

    application_id, user_id = await linked_ada(api, fake_scim)

    [body] = bodies(fake_scim, "POST")
    # displayName is left out: the target's User schema lacks it.
    assert body == {
        "schemas": [USER_SCHEMA],
        "userName": "ada@example.org",
        "name": {"givenName": "Ada", "familyName": "Byron"},
        "emails": [{"value": "ada@example.org", "type": "work", "primary": True}],
        "active": True,
        "externalId": body["externalId"],
    }
    assert len(fake_scim.users.resources) == 1


async def test_patch_sends_lowercase_ops(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    strict(fake_scim, "userName", "name", "displayName", "emails", "active")
    application_id, user_id = await linked_ada(api, fake_scim)
    scim_id = fake_scim.users.resources[0]["id"]

    await api(DEACTIVATE, u=user_id)
    await settled()

    assert bodies(fake_scim, "PATCH", f"/Users/{scim_id}") == [
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        }
    ]
    assert fake_scim.users.resources[0]["active"] is False


async def test_put_normalizes_stored_resource(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    strict(
        fake_scim,
        "userName",
        "name",
        "displayName",
        "emails",
        "active",
        "groups",
        patch=False,
        read_only=("groups",),
    )
    # The target stores, and returns, values it would reject if sent back.
    fake_scim.users.resources = [
        {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "id": "ada-1",
            "UserName": "ada@example.org",
            "name": {"givenName": "Ada", "familyName": "Byron"},
            "displayName": "Ada Byron",
            "active": "true",
            "emails": [
                {"value": "ada@example.org", "type": "Work", "primary": "true"},
                {"value": "ada.home@example.org", "type": "HOME", "primary": True},
            ],
            "groups": [{"value": "g1", "display": "Staff"}],
            ENTERPRISE: {"employeeNumber": "42"},
            "meta": {"resourceType": "User", "location": "/Users/ada-1"},
        }
    ]
    application_id, user_id = await linked_ada(api, fake_scim)

    await api(DEACTIVATE, u=user_id)
    await settled()

    assert bodies(fake_scim, "PUT", "/Users/ada-1") == [
        {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "id": "ada-1",
            "userName": "ada@example.org",
            "name": {"givenName": "Ada", "familyName": "Byron"},
            "displayName": "Ada Byron",
            "active": False,
            "emails": [
                {"value": "ada@example.org", "type": "work", "primary": True},
                {"value": "ada.home@example.org", "type": "home", "primary": False},
            ],
            ENTERPRISE: {"employeeNumber": "42"},
        }
    ]
    assert fake_scim.users.resources[0]["active"] is False
    assert fake_scim.users.resources[0][ENTERPRISE] == {"employeeNumber": "42"}


async def test_put_sets_one_primary_email(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    strict(fake_scim, "userName", "emails", "active", patch=False)
    fake_scim.users.resources = [
        {
            "id": "ada-1",
            "userName": "ada@example.org",
            "active": True,
            "emails": [
                {"value": "ada.home@example.org", "type": "home"},
                {"value": "ada@example.org", "type": "work"},
            ],
        }
    ]
    application_id, user_id = await linked_ada(api, fake_scim)

    await api(DEACTIVATE, u=user_id)
    await settled()

    [body] = bodies(fake_scim, "PUT", "/Users/ada-1")
    assert body["emails"] == [
        {"value": "ada.home@example.org", "type": "home", "primary": False},
        {"value": "ada@example.org", "type": "work", "primary": True},
    ]


async def test_update_leaves_out_undeclared(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    strict(fake_scim, "userName", "emails", "active")
    application_id, user_id = await linked_ada(api, fake_scim)
    scim_id = fake_scim.users.resources[0]["id"]

    await api(UPDATE_USER, u=user_id, email="ada.l@example.org", familyName="Lovelace")
    await settled()

    [body] = bodies(fake_scim, "PATCH", f"/Users/{scim_id}")
    assert body["Operations"] == [
        {"op": "replace", "path": "userName", "value": "ada.l@example.org"},
        {
            "op": "replace",
            "path": "emails",
            "value": [{"value": "ada.l@example.org", "type": "work", "primary": True}],
        },
    ]
    assert fake_scim.users.resources[0]["userName"] == "ada.l@example.org"


async def test_update_of_undeclared_only_sends_nothing(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    strict(fake_scim, "userName", "emails", "active")
    application_id, user_id = await linked_ada(api, fake_scim)
    scim_id = fake_scim.users.resources[0]["id"]

    await api(UPDATE_USER, u=user_id, familyName="Lovelace")
    await settled()

    assert bodies(fake_scim, "PATCH", f"/Users/{scim_id}") == []
    assert bodies(fake_scim, "PUT", f"/Users/{scim_id}") == []
    assert (await api(EVENTS))["tickets"]["edges"] == []


async def test_deactivation_without_active_fails(
    api: GraphQLClient, fake_scim: FakeScim, automation: None
) -> None:
    strict(fake_scim, "userName", "emails")
    application_id, user_id = await linked_ada(api, fake_scim)
    scim_id = fake_scim.users.resources[0]["id"]

    await api(DEACTIVATE, u=user_id)
    await settled()

    assert bodies(fake_scim, "PATCH", f"/Users/{scim_id}") == []
    [ticket] = [edge["node"] for edge in (await api(EVENTS))["tickets"]["edges"]]
    assert ticket["event"] == "USER_DEACTIVATED"
    assert "declares no 'active' attribute" in ticket["message"]


def test_undeclared_primary_not_added() -> None:
    schema = TargetSchema.from_documents(
        [
            {
                "id": USER_SCHEMA,
                "attributes": [
                    {
                        "name": "emails",
                        "multiValued": True,
                        "subAttributes": [{"name": "value"}, {"name": "type"}],
                    }
                ],
            }
        ]
    )
    resource = {"emails": [{"value": "ada@example.org", "type": "Work", "primary": 1}]}

    body = prepare_resource(resource, USER_SCHEMA, schema)

    # The target's emails have no primary sub-attribute, so none is sent.
    assert body == {"emails": [{"value": "ada@example.org", "type": "work"}]}
