"""Which mirrored account belongs to which SmartLink user.

An account belongs to a user by its stored link first. An account linked to
no one also matches a user whose id is its `externalId`, or whose email equals
its userName or email, case-insensitively, in that order of preference.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import ScimAccount, User


def account_matches_user_clause(application_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on `User`: some account of the application matches the user."""
    unlinked = col(ScimAccount.user_id).is_(None)
    return exists().where(
        col(ScimAccount.application_id) == application_id,
        or_(
            col(ScimAccount.user_id) == col(User.id),
            and_(
                unlinked,
                or_(
                    col(ScimAccount.external_uuid) == col(User.id),
                    col(ScimAccount.user_name_key) == col(User.email_key),
                    col(ScimAccount.email_key) == col(User.email_key),
                ),
            ),
        ),
    )


async def match_accounts(
    session: AsyncSession, application_id: uuid.UUID, users: Sequence[User]
) -> dict[uuid.UUID, ScimAccount]:
    """Return each user's matching account, with one query for all the users."""
    if not users:
        return {}
    ids = [user.id for user in users]
    emails = [user.email_key for user in users]
    statement = select(ScimAccount).where(
        col(ScimAccount.application_id) == application_id,
        or_(
            col(ScimAccount.user_id).in_(ids),
            and_(
                col(ScimAccount.user_id).is_(None),
                or_(
                    col(ScimAccount.external_uuid).in_(ids),
                    col(ScimAccount.user_name_key).in_(emails),
                    col(ScimAccount.email_key).in_(emails),
                ),
            ),
        ),
    )
    candidates = list(await session.exec(statement))
    return {
        user.id: account
        for user in users
        if (account := best_match(user, candidates)) is not None
    }


def best_match(user: User, accounts: Sequence[ScimAccount]) -> ScimAccount | None:
    """Pick the account that belongs to `user` among candidates, by preference."""
    unlinked = [a for a in accounts if a.user_id is None]
    rules = (
        [a for a in accounts if a.user_id == user.id],
        [a for a in unlinked if a.external_uuid == user.id],
        [a for a in unlinked if a.user_name_key == user.email_key],
        [a for a in unlinked if a.email_key == user.email_key],
    )
    for matches in rules:
        if matches:
            return matches[0]
    return None


def _free_user_clause(application_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on `User`: no account of the application is linked to it."""
    linked = aliased(ScimAccount)
    return ~exists().where(
        col(linked.application_id) == application_id,
        col(linked.user_id) == col(User.id),
    )


def account_has_suggestion_clause(application_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on `ScimAccount`: unlinked, and some free user matches it."""
    return and_(
        col(ScimAccount.user_id).is_(None),
        exists().where(
            _free_user_clause(application_id),
            or_(
                col(User.id) == col(ScimAccount.external_uuid),
                col(User.email_key) == col(ScimAccount.user_name_key),
                col(User.email_key) == col(ScimAccount.email_key),
            ),
        ),
    )


async def suggest_users(
    session: AsyncSession, application_id: uuid.UUID, accounts: Sequence[ScimAccount]
) -> dict[uuid.UUID, User]:
    """Return a user to link to each unlinked account, by account id.

    A user is suggested when no account of the application is linked to it
    and it matches by the rules above. One query serves all the accounts.
    """
    unlinked = [account for account in accounts if account.user_id is None]
    if not unlinked:
        return {}
    ids = [a.external_uuid for a in unlinked if a.external_uuid is not None]
    emails = {a.user_name_key for a in unlinked}
    emails.update(a.email_key for a in unlinked if a.email_key)
    statement = select(User).where(
        _free_user_clause(application_id),
        or_(col(User.id).in_(ids), col(User.email_key).in_(emails)),
    )
    candidates = list(await session.exec(statement))
    return {
        account.id: user
        for account in unlinked
        if (user := _best_user(account, candidates)) is not None
    }


def _best_user(account: ScimAccount, users: Sequence[User]) -> User | None:
    rules = (
        [u for u in users if account.external_uuid == u.id],
        [u for u in users if account.user_name_key == u.email_key],
        [u for u in users if account.email_key == u.email_key],
    )
    for matches in rules:
        if matches:
            return matches[0]
    return None
