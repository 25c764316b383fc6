"""The Access tab: users with access to an application, and their accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import not_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access import has_access_clause
from domain.models import ScimAccount, User
from domain.pagination import Page, PageRequest, fetch_page
from domain.provisioning.matching import account_matches_user_clause, match_accounts
from domain.users import user_search_clause


@dataclass(frozen=True)
class AccessEntry:
    user: User
    account: ScimAccount | None

    @property
    def present_in_app(self) -> bool:
        return self.account is not None


async def list_access(
    session: AsyncSession,
    application_id: uuid.UUID,
    page: PageRequest,
    *,
    search: str | None = None,
    present: bool | None = None,
) -> Page[AccessEntry]:
    """List users with access by email, each with its account in the target."""
    statement = (
        select(User)
        .where(has_access_clause(application_id))
        .order_by(col(User.email_key))
    )
    if search:
        statement = statement.where(user_search_clause(search))
    if present is True:
        statement = statement.where(account_matches_user_clause(application_id))
    if present is False:
        statement = statement.where(not_(account_matches_user_clause(application_id)))

    users = await fetch_page(session, statement, page)
    accounts = await match_accounts(session, application_id, users.items)
    entries = [
        AccessEntry(user=user, account=accounts.get(user.id)) for user in users.items
    ]
    return Page(items=entries, total=users.total, offset=users.offset)
