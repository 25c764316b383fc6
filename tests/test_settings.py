"""The Settings tab: one mode per event, and the safeguards."""

from __future__ import annotations

from tests.support.fixtures import UPDATE_SETTINGS, create_application, update_settings
from tests.support.graphql import GraphQLClient

SETTINGS = """
query($id: ID!) {
  node(id: $id) {
    ... on Application {
      provisioning {
        settings {
          userGainsAccess userLosesAccess userDeactivated userUpdated
          deprovisionAction massDeprovisionThreshold massDeprovisionWindowMinutes
        }
      }
    }
  }
}
"""


async def test_settings_default_to_manual(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(SETTINGS, id=application_id)

    assert data["node"]["provisioning"]["settings"] == {
        "userGainsAccess": "MANUAL",
        "userLosesAccess": "MANUAL",
        "userDeactivated": "MANUAL",
        "userUpdated": "MANUAL",
        "deprovisionAction": "DEACTIVATE",
        "massDeprovisionThreshold": 10,
        "massDeprovisionWindowMinutes": 60,
    }


async def test_update_changes_given_fields_only(api: GraphQLClient) -> None:
    application_id = await create_application(api)
    await update_settings(api, application_id, userGainsAccess="AUTOMATIC")

    payload = await update_settings(
        api, application_id, userLosesAccess="NOTIFICATION", deprovisionAction="DELETE"
    )

    settings = payload["settings"]
    assert settings["userGainsAccess"] == "AUTOMATIC"
    assert settings["userLosesAccess"] == "NOTIFICATION"
    assert settings["userDeactivated"] == "MANUAL"
    assert settings["deprovisionAction"] == "DELETE"
    saved = (await api(SETTINGS, id=application_id))["node"]["provisioning"]["settings"]
    assert saved == settings


async def test_threshold_out_of_range_rejected(api: GraphQLClient) -> None:
    application_id = await create_application(api)

    data = await api(
        UPDATE_SETTINGS,
        input={"applicationId": application_id, "massDeprovisionThreshold": 0},
    )

    errors = data["updateProvisioningSettings"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID", ["massDeprovisionThreshold"])
    ]
    assert "is 0" in errors[0]["message"]
    saved = (await api(SETTINGS, id=application_id))["node"]["provisioning"]["settings"]
    assert saved["massDeprovisionThreshold"] == 10
