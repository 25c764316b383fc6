"""Checks of the optional profile fields that applications commonly receive."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.models import User

#: Characters a title, department or employee number may have at most.
PROFILE_MAX_LENGTH = 200

#: Digits, spaces and the punctuation of written numbers, at least one digit;
#: E.164 numbers have at most 15 digits, and the rest leaves room for spacing.
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ().\-/]{0,30}$")

#: A BCP 47 tag of a language, an optional script, region and variants,
#: such as `en`, `en-GB`, `zh-Hant-TW` or `de-CH-1996`; RFC 7643 4.1.1 takes
#: these for preferredLanguage.
LANGUAGE_PATTERN = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)$"
)


def clean_text(value: str | None, field: str) -> str | None:
    """Return `value` trimmed (None when blank), or raise when it is too long."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > PROFILE_MAX_LENGTH:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; the maximum is "
            f"{PROFILE_MAX_LENGTH}.",
            field=[field],
        )
    if any(ord(c) < 32 for c in value):
        raise InvalidInput(
            f"{field} {value!r} contains a line break or control character; "
            "write it on one line.",
            field=[field],
        )
    return value or None


def clean_phone_number(value: str | None) -> str | None:
    """Return a phone number trimmed, or raise when it is not one."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not PHONE_PATTERN.match(value):
        raise InvalidInput(
            f"Phone number {value!r} is not valid; write digits, optionally "
            "after a + and separated by spaces, dashes or brackets, such as "
            "+44 20 7946 0958.",
            field=["phoneNumber"],
        )
    return value


def clean_language(value: str | None) -> str | None:
    """Return a language tag in its usual case (`en-GB`), or raise."""
    if value is None or not value.strip():
        return None
    value = value.strip().replace("_", "-")
    match = LANGUAGE_PATTERN.match(value)
    if match is None:
        raise InvalidInput(
            f"Preferred language {value!r} is not a BCP 47 language tag; write a "
            "language code with an optional region, such as en, en-GB or pt-BR.",
            field=["preferredLanguage"],
        )
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    variants = match["variants"]
    return "-".join(parts) + (variants.lower() if variants else "")


@dataclass(frozen=True)
class ProfileInput:
    """Profile fields to set; None leaves a field as it is, "" clears it."""

    title: str | None = None
    department: str | None = None
    phone_number: str | None = None
    preferred_language: str | None = None
    employee_number: str | None = None


def apply_profile(user: User, profile: ProfileInput) -> None:
    """Check the given profile fields and set them on `user`.

    Raises `InvalidInput` naming the field and the value at fault.
    """
    if profile.title is not None:
        user.title = clean_text(profile.title, "title")
    if profile.department is not None:
        user.department = clean_text(profile.department, "department")
    if profile.phone_number is not None:
        user.phone_number = clean_phone_number(profile.phone_number)
    if profile.preferred_language is not None:
        user.preferred_language = clean_language(profile.preferred_language)
    if profile.employee_number is not None:
        user.employee_number = clean_text(profile.employee_number, "employeeNumber")


def profile_values(user: User) -> dict[str, str | None]:
    """Return the profile fields by GraphQL name, to see which changed."""
    return {
        "title": user.title,
        "department": user.department,
        "phoneNumber": user.phone_number,
        "preferredLanguage": user.preferred_language,
        "employeeNumber": user.employee_number,
    }
