"""Profile fields of SmartLink users: title, department, phone, language, number."""

from __future__ import annotations

import pytest

from tests.support.graphql import GraphQLClient

PROFILE = "title department phoneNumber preferredLanguage employeeNumber"

CREATE_USER = f"""
mutation($input: CreateUserInput!) {{
  createUser(input: $input) {{
    user {{ id {PROFILE} }} errors {{ code message field }}
  }}
}}
"""

UPDATE_USER = f"""
mutation($input: UpdateUserInput!) {{
  updateUser(input: $input) {{
    user {{ {PROFILE} }} errors {{ code message field }}
  }}
}}
"""

USERS = f"query {{ users(first: 10) {{ edges {{ node {{ email {PROFILE} }} }} }} }}"


async def test_create_with_profile(api: GraphQLClient) -> None:
    data = await api(
        CREATE_USER,
        input={
            "email": "ada@example.org",
            "title": "  Countess ",
            "department": "Analytics",
            "phoneNumber": "+44 20 7946 0958",
            "preferredLanguage": "en_gb",
            "employeeNumber": "0042",
        },
    )

    assert data["createUser"]["errors"] == []
    user = data["createUser"]["user"]
    del user["id"]
    assert user == {
        "title": "Countess",
        "department": "Analytics",
        "phoneNumber": "+44 20 7946 0958",
        "preferredLanguage": "en-GB",
        "employeeNumber": "0042",
    }


async def test_update_sets_and_clears(api: GraphQLClient) -> None:
    data = await api(
        CREATE_USER,
        input={"email": "ada@example.org", "title": "Countess", "department": "Maths"},
    )
    user_id = data["createUser"]["user"]["id"]

    data = await api(
        UPDATE_USER,
        input={"userId": user_id, "title": "", "preferredLanguage": "zh-hant-tw"},
    )

    assert data["updateUser"]["errors"] == []
    assert data["updateUser"]["user"] == {
        "title": None,
        "department": "Maths",
        "phoneNumber": None,
        "preferredLanguage": "zh-Hant-TW",
        "employeeNumber": None,
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "preferredLanguage",
            "English",
            "Preferred language 'English' is not a BCP 47 language tag; write a "
            "language code with an optional region, such as en, en-GB or pt-BR.",
        ),
        (
            "preferredLanguage",
            "en-",
            "Preferred language 'en-' is not a BCP 47 language tag; write a "
            "language code with an optional region, such as en, en-GB or pt-BR.",
        ),
        (
            "phoneNumber",
            "call me",
            "Phone number 'call me' is not valid; write digits, optionally after a "
            "+ and separated by spaces, dashes or brackets, such as +44 20 7946 0958.",
        ),
        (
            "title",
            "x" * 201,
            "title is 201 characters long; the maximum is 200.",
        ),
        (
            "employeeNumber",
            "12\n34",
            "employeeNumber '12\\n34' contains a line break or control character; "
            "write it on one line.",
        ),
    ],
)
async def test_invalid_profile_rejected(
    api: GraphQLClient, field: str, value: str, message: str
) -> None:
    data = await api(CREATE_USER, input={"email": "ada@example.org", field: value})

    assert data["createUser"]["user"] is None
    assert data["createUser"]["errors"] == [
        {"code": "INVALID", "message": message, "field": [field]}
    ]
    assert (await api(USERS))["users"]["edges"] == []
