"""SmartLink users (memberships): creation, profile changes and activation."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.models import FolderUser, ProvisioningEvent, User
from domain.models.columns import utcnow
from domain.pagination import Page, PageRequest, fetch_page, like_pattern
from domain.profile import ProfileInput, apply_profile, profile_values

USER_UPDATED = ProvisioningEvent.USER_UPDATED
USER_DEACTIVATED = ProvisioningEvent.USER_DEACTIVATED

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 200


def normalize_email(email: str, field: str = "email") -> str:
    """Return `email` trimmed, or raise `InvalidInput` naming the bad value."""
    email = email.strip()
    if not EMAIL_PATTERN.match(email) or len(email) > EMAIL_MAX_LENGTH:
        raise InvalidInput(
            f"Email {email!r} is not a valid address; use the form name@example.com.",
            field=[field],
        )
    return email


def clean_name(value: str | None, field: str) -> str | None:
    """Return `value` trimmed (None when blank), or raise when it is too long."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > NAME_MAX_LENGTH:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; the maximum is "
            f"{NAME_MAX_LENGTH}.",
            field=[field],
        )
    return value or None


async def get_user(
    session: AsyncSession, user_id: uuid.UUID, field: str = "userId"
) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(
            f"User {user_id} was not found; check the id against the `users` query.",
            field=[field],
            references={user_id: "User"},
        )
    return user


def describe_user(user: User) -> str:
    """Return how a message names another user: the email, then the name if
    the user has one, and the id.

    The id is the raw UUID. A message that uses this passes the user's id in
    `references`, so the API shows it as a global id.
    """
    if user.display_name == user.email:
        return f"{user.email!r} ({user.id})"
    return f"{user.email!r} ({user.display_name}, {user.id})"


def user_label(user: User) -> str:
    """Return how a ticket names a user: name and email, or the email alone
    when the user has no name."""
    if user.display_name == user.email:
        return user.email
    return f"{user.display_name} ({user.email})"


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(User.email_key == email.strip().lower())
    return (await session.exec(statement)).first()


async def _ensure_email_free(
    session: AsyncSession, email: str, user_id: uuid.UUID | None = None
) -> None:
    existing = await find_user_by_email(session, email)
    if existing is not None and existing.id != user_id:
        raise AlreadyExists(
            f"Email {email!r} already belongs to user {describe_user(existing)}; "
            "use that user or another address.",
            field=["email"],
            references={existing.id: "User"},
        )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    given_name: str | None = None,
    family_name: str | None = None,
    active: bool = True,
    profile: ProfileInput | None = None,
) -> User:
    email = normalize_email(email)
    await _ensure_email_free(session, email)

    user = User(
        email=email,
        email_key=email.lower(),
        given_name=clean_name(given_name, "givenName"),
        family_name=clean_name(family_name, "familyName"),
        active=active,
    )
    apply_profile(user, profile or ProfileInput())
    session.add(user)
    await session.flush()
    return user


async def update_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    email: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
    profile: ProfileInput | None = None,
) -> User:
    """Change the given fields of a user; None leaves a field as it is."""
    user = await get_user(session, user_id)
    before = {
        "email": user.email,
        "givenName": user.given_name,
        "familyName": user.family_name,
        **profile_values(user),
    }
    if email is not None:
        email = normalize_email(email)
        await _ensure_email_free(session, email, user.id)
        user.email, user.email_key = email, email.lower()
    if given_name is not None:
        user.given_name = clean_name(given_name, "givenName")
    if family_name is not None:
        user.family_name = clean_name(family_name, "familyName")
    apply_profile(user, profile or ProfileInput())

    after = {
        "email": user.email,
        "givenName": user.given_name,
        "familyName": user.family_name,
        **profile_values(user),
    }
    changed = {key: after[key] for key in after if after[key] != before[key]}
    if changed:
        user.updated_at = utcnow()
        await session.flush()
        await _emit_for_user_applications(session, user, USER_UPDATED, changed)
    return user


async def set_user_active(
    session: AsyncSession, user_id: uuid.UUID, active: bool
) -> User:
    """Deactivate or reactivate a user; doing it again changes nothing."""
    user = await get_user(session, user_id)
    if user.active == active:
        return user

    user.active = active
    user.updated_at = utcnow()
    await session.flush()
    event = USER_UPDATED if active else USER_DEACTIVATED
    await _emit_for_user_applications(session, user, event, {"active": active})
    return user


async def _emit_for_user_applications(
    session: AsyncSession, user: User, event: ProvisioningEvent, details: dict[str, Any]
) -> None:
    # Imported here because the automation modules build on this one.
    from domain.automation.dispatch import emit
    from domain.automation.tracking import applications_of_user

    for application_id in await applications_of_user(session, user.id):
        await emit(session, application_id, event, user, details)


def user_search_clause(search: str) -> ColumnElement[bool]:
    """Match `search` in the email or either name, case-insensitively."""
    pattern = like_pattern(search)
    return or_(
        col(User.email_key).like(pattern, escape="\\"),
        func.lower(col(User.given_name)).like(pattern, escape="\\"),
        func.lower(col(User.family_name)).like(pattern, escape="\\"),
    )


async def list_users(
    session: AsyncSession,
    page: PageRequest,
    *,
    search: str | None = None,
    folder_id: uuid.UUID | None = None,
) -> Page[User]:
    """List users by email, optionally the members of one folder."""
    statement = select(User).order_by(col(User.email_key))
    if search:
        statement = statement.where(user_search_clause(search))
    if folder_id is not None:
        members = select(FolderUser.user_id).where(FolderUser.folder_id == folder_id)
        statement = statement.where(col(User.id).in_(members))
    return await fetch_page(session, statement, page)


async def users_by_ids(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    rows = await session.exec(select(User).where(col(User.id).in_(ids)))
    return {user.id: user for user in rows}
