"""The Accounts tab: the target's accounts as mirrored, and their links."""

from __future__ import annotations

import uuid

from sqlalchemy import func, not_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import NotFound
from domain.models import ScimAccount
from domain.pagination import Page, PageRequest, fetch_page, like_pattern
from domain.provisioning.matching import account_has_suggestion_clause


async def get_account(
    session: AsyncSession, account_id: uuid.UUID, field: str = "accountId"
) -> ScimAccount:
    account = await session.get(ScimAccount, account_id)
    if account is None:
        raise NotFound(
            f"Account {account_id} was not found; refresh the Accounts tab.",
            field=[field],
            references={account_id: "ScimAccount"},
        )
    return account


async def list_accounts(
    session: AsyncSession,
    application_id: uuid.UUID,
    page: PageRequest,
    *,
    search: str | None = None,
    linked: bool | None = None,
    suggested: bool | None = None,
    drifted: bool | None = None,
) -> Page[ScimAccount]:
    """List mirrored accounts by userName; `search` matches userName, names, email.

    `suggested` true keeps the unlinked accounts that a user could be linked
    to (see `domain.provisioning.matching`), false keeps the others.
    `drifted` true keeps the accounts the last refresh found drifted.
    """
    statement = (
        select(ScimAccount)
        .where(ScimAccount.application_id == application_id)
        .order_by(col(ScimAccount.user_name_key), col(ScimAccount.id))
    )
    if search:
        pattern = like_pattern(search)
        statement = statement.where(
            or_(
                col(ScimAccount.user_name_key).like(pattern, escape="\\"),
                col(ScimAccount.email_key).like(pattern, escape="\\"),
                func.lower(col(ScimAccount.display_name)).like(pattern, escape="\\"),
                func.lower(col(ScimAccount.given_name)).like(pattern, escape="\\"),
                func.lower(col(ScimAccount.family_name)).like(pattern, escape="\\"),
            )
        )
    if linked is True:
        statement = statement.where(col(ScimAccount.user_id).is_not(None))
    if linked is False:
        statement = statement.where(col(ScimAccount.user_id).is_(None))
    if suggested is True:
        statement = statement.where(account_has_suggestion_clause(application_id))
    if suggested is False:
        statement = statement.where(not_(account_has_suggestion_clause(application_id)))
    if drifted is not None:
        drift = col(ScimAccount.drift)
        statement = statement.where(drift.is_not(None) if drifted else drift.is_(None))
    return await fetch_page(session, statement, page)
