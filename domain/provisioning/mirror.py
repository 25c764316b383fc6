"""The local mirror of a target's accounts and groups.

The tabs read the mirror, never the target, so they respond at database speed;
refreshes and the product's own writes keep it current.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import ScimAccount, ScimGroup
from domain.models.columns import utcnow
from domain.scim.payloads import account_fields, group_fields


def apply_account(account: ScimAccount, resource: dict[str, Any]) -> ScimAccount:
    """Copy a SCIM User resource's attributes onto its mirror row."""
    for name, value in account_columns(resource).items():
        setattr(account, name, value)
    return account


def account_columns(resource: dict[str, Any]) -> dict[str, Any]:
    """Return the mirror columns that a SCIM User resource sets, by name."""
    fields = account_fields(resource)
    return {
        "scim_id": fields.scim_id,
        "user_name": fields.user_name,
        "user_name_key": fields.user_name.lower(),
        "display_name": fields.display_name,
        "given_name": fields.given_name,
        "family_name": fields.family_name,
        "email": fields.email,
        "email_key": fields.email.lower() if fields.email else None,
        "active": fields.active,
        "external_id": fields.external_id,
        "external_uuid": _as_uuid(fields.external_id),
        "raw": resource,
        "refreshed_at": utcnow(),
    }


def _as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def apply_group(group: ScimGroup, resource: dict[str, Any]) -> ScimGroup:
    """Copy a SCIM Group resource's attributes onto its mirror row."""
    fields = group_fields(resource)
    group.scim_id = fields.scim_id
    group.display_name = fields.display_name
    group.display_name_key = fields.display_name.lower()
    group.external_id = fields.external_id
    group.external_uuid = _as_uuid(fields.external_id)
    group.member_ids = fields.member_ids
    group.raw = resource
    group.refreshed_at = utcnow()
    return group


async def upsert_account(
    session: AsyncSession,
    application_id: uuid.UUID,
    resource: dict[str, Any],
    user_id: uuid.UUID | None = None,
) -> ScimAccount:
    """Insert or update the mirror row of one SCIM User resource.

    A `user_id` links the row to that user in the same write.
    """
    scim_id = account_fields(resource).scim_id
    statement = select(ScimAccount).where(
        ScimAccount.application_id == application_id, ScimAccount.scim_id == scim_id
    )
    account = (await session.exec(statement)).first()
    if account is None:
        account = ScimAccount(
            application_id=application_id,
            scim_id=scim_id,
            user_name="",
            user_name_key="",
        )
        session.add(account)
    apply_account(account, resource)
    if user_id is not None:
        account.user_id = user_id
    await session.flush()
    return account


async def upsert_group(
    session: AsyncSession, application_id: uuid.UUID, resource: dict[str, Any]
) -> ScimGroup:
    """Insert or update the mirror row of one SCIM Group resource."""
    scim_id = group_fields(resource).scim_id
    statement = select(ScimGroup).where(
        ScimGroup.application_id == application_id, ScimGroup.scim_id == scim_id
    )
    group = (await session.exec(statement)).first()
    if group is None:
        group = ScimGroup(
            application_id=application_id,
            scim_id=scim_id,
            display_name="",
            display_name_key="",
        )
        session.add(group)
    apply_group(group, resource)
    await session.flush()
    return group


async def replace_accounts(
    session: AsyncSession,
    application_id: uuid.UUID,
    resources: list[dict[str, Any]],
    *,
    remove_missing: bool,
    listing_started_at: datetime,
) -> None:
    """Make the mirror's accounts equal the listed resources, keeping links.

    With `remove_missing` false (an incomplete listing), rows are added and
    updated but none are removed. Rows refreshed at or after
    `listing_started_at` were written while the listing ran, so they stay even
    when the listing lacks them.
    """
    statement = select(ScimAccount).where(ScimAccount.application_id == application_id)
    existing = {account.scim_id: account for account in await session.exec(statement)}
    listed: set[str] = set()

    for resource in resources:
        scim_id = account_fields(resource).scim_id
        listed.add(scim_id)
        account = existing.get(scim_id)
        if account is None:
            account = ScimAccount(
                application_id=application_id,
                scim_id=scim_id,
                user_name="",
                user_name_key="",
            )
            session.add(account)
        apply_account(account, resource)

    if remove_missing:
        for scim_id, account in existing.items():
            if scim_id not in listed and account.refreshed_at < listing_started_at:
                await session.delete(account)
    await session.flush()


async def replace_groups(
    session: AsyncSession,
    application_id: uuid.UUID,
    resources: list[dict[str, Any]],
    *,
    remove_missing: bool,
    listing_started_at: datetime,
) -> None:
    """Make the mirror's groups equal the listed resources, keeping links.

    Removes rows as `replace_accounts` does.
    """
    statement = select(ScimGroup).where(ScimGroup.application_id == application_id)
    existing = {group.scim_id: group for group in await session.exec(statement)}
    listed: set[str] = set()

    for resource in resources:
        scim_id = group_fields(resource).scim_id
        listed.add(scim_id)
        group = existing.get(scim_id)
        if group is None:
            group = ScimGroup(
                application_id=application_id,
                scim_id=scim_id,
                display_name="",
                display_name_key="",
            )
            session.add(group)
        apply_group(group, resource)

    if remove_missing:
        for scim_id, group in existing.items():
            if scim_id not in listed and group.refreshed_at < listing_started_at:
                await session.delete(group)
    await session.flush()


async def accounts_by_ids(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, ScimAccount]:
    if not ids:
        return {}
    rows = await session.exec(select(ScimAccount).where(col(ScimAccount.id).in_(ids)))
    return {account.id: account for account in rows}


#: SCIM ids sent in one IN clause, well under the bound-parameter limits of
#: SQLite (32,766) and PostgreSQL (32,767).
IN_CLAUSE_SIZE = 1_000


async def accounts_by_scim_ids(
    session: AsyncSession, application_id: uuid.UUID, scim_ids: Sequence[str]
) -> dict[str, ScimAccount]:
    """Return the application's mirrored accounts among `scim_ids`, by SCIM id."""
    found: dict[str, ScimAccount] = {}
    unique = list(dict.fromkeys(scim_ids))
    for start in range(0, len(unique), IN_CLAUSE_SIZE):
        statement = select(ScimAccount).where(
            ScimAccount.application_id == application_id,
            col(ScimAccount.scim_id).in_(unique[start : start + IN_CLAUSE_SIZE]),
        )
        found.update(
            {account.scim_id: account for account in await session.exec(statement)}
        )
    return found
