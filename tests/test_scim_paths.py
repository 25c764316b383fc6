"""Parsing SCIM attribute paths, and setting values at them for a PUT."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.scim.paths import AttributePath, parse_patch_path, parse_path
from domain.scim.writes import REMOVE, merge_values, patch_operations

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    ("text", "expected", "patch_path"),
    [
        ("userName", AttributePath(None, "userName"), "userName"),
        ("name.givenName", AttributePath(None, "name", "givenName"), "name.givenName"),
        (
            'emails[type eq "work"].value',
            AttributePath(None, "emails", "value", ("type", "work")),
            "emails",
        ),
        (f"{USER}:displayName", AttributePath(None, "displayName"), "displayName"),
        (
            f"{ENTERPRISE}:department",
            AttributePath(ENTERPRISE, "department"),
            f"{ENTERPRISE}:department",
        ),
        (
            f"{ENTERPRISE}:manager.value",
            AttributePath(ENTERPRISE, "manager", "value"),
            f"{ENTERPRISE}:manager.value",
        ),
        (
            'phoneNumbers[type eq "a \\"b\\""].value',
            AttributePath(None, "phoneNumbers", "value", ("type", 'a "b"')),
            "phoneNumbers",
        ),
    ],
)
def test_path_parsed(text: str, expected: AttributePath, patch_path: str) -> None:
    parsed = parse_path(text, USER)

    assert parsed == expected
    assert parsed.patch_path == patch_path
    assert parse_path(str(parsed), USER) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "it does not start with an attribute name"),
        ("9lives", "it does not start with an attribute name"),
        ('emails[type co "w"].value', 'its filter is not of the form [type eq "work"]'),
        ('emails[type eq "work"]', "a filtered path must end with a sub-attribute"),
        ("name.given.name", "'given.name' is not a sub-attribute name"),
        ("name givenName", "' givenName' cannot follow the attribute name"),
    ],
)
def test_invalid_path_rejected(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_path(text, USER)

    assert raised.value.message.startswith(
        f"Attribute path {text!r} is invalid: {reason}."
    )


def test_merge_sets_extension_value() -> None:
    resource = {
        "schemas": [USER],
        "userName": "ada",
        ENTERPRISE.upper(): {"division": "R&D"},
    }

    merged = merge_values(
        resource, {f"{ENTERPRISE}:department": "Engines", "name.givenName": "Ada"}
    )

    assert merged == {
        "schemas": [USER, ENTERPRISE],
        "userName": "ada",
        ENTERPRISE: {"division": "R&D", "department": "Engines"},
        "name": {"givenName": "Ada"},
    }
    assert resource[ENTERPRISE.upper()] == {"division": "R&D"}


def test_patch_path_may_end_with_filter() -> None:
    parsed = parse_patch_path('emails[type eq "work"]', USER)

    assert parsed == AttributePath(None, "emails", None, ("type", "work"))
    assert str(parsed) == 'emails[type eq "work"]'
    assert parse_path('emails[type eq "work"].value', USER).selected_value == parsed


def test_remove_becomes_operation_without_value() -> None:
    operations = patch_operations({"title": REMOVE, "nickName": "Ada"})

    assert operations == [
        {"op": "remove", "path": "title"},
        {"op": "replace", "path": "nickName", "value": "Ada"},
    ]


def test_merge_removes_named_values() -> None:
    resource = {
        "schemas": [USER, ENTERPRISE],
        "userName": "ada",
        "Title": "Countess",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "phoneNumbers": [
            {"value": "+44 1", "type": "Work", "display": "office"},
            {"value": "+44 2", "type": "home", "display": "house"},
        ],
        "emails": [{"value": "ada@example.org", "type": "work", "display": "Ada"}],
        ENTERPRISE: {"department": "Engines"},
    }

    merged = merge_values(
        resource,
        {
            "title": REMOVE,
            "name.familyName": REMOVE,
            'phoneNumbers[type eq "work"]': REMOVE,
            'emails[type eq "work"].display': REMOVE,
            f"{ENTERPRISE}:department": REMOVE,
            "nickName": REMOVE,
        },
    )

    assert merged == {
        "schemas": [USER],
        "userName": "ada",
        "name": {"givenName": "Ada"},
        "phoneNumbers": [{"value": "+44 2", "type": "home", "display": "house"}],
        "emails": [{"value": "ada@example.org", "type": "work"}],
    }
    assert resource["Title"] == "Countess"


def test_merge_drops_emptied_attributes() -> None:
    resource = {
        "userName": "ada",
        "name": {"familyName": "Lovelace"},
        "phoneNumbers": [{"value": "+44 1", "type": "work"}],
    }

    merged = merge_values(
        resource,
        {"name.familyName": REMOVE, 'phoneNumbers[type eq "WORK"]': REMOVE},
    )

    assert merged == {"userName": "ada"}
