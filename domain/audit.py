"""The audit log of configuration changes and destructive actions.

Call `record_audit` in the same transaction as the change it describes, so
the entry is committed if and only if the change is. Pass values that are
safe to show an admin: a secret is written only as `SECRET_SET`,
`SECRET_REPLACED` or `SECRET_CLEARED`, never as its value.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.models import AuditEntry
from domain.pagination import Page, PageRequest, fetch_page

logger = logging.getLogger(__name__)

SECRET_SET = "set"
SECRET_REPLACED = "replaced"
SECRET_CLEARED = "cleared"


def record_audit(
    session: AsyncSession,
    *,
    token_name: str | None,
    action: str,
    application_id: uuid.UUID | None = None,
    objects: Mapping[str, uuid.UUID] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; the caller's commit writes it.

    `objects` maps type names (`User`, `ScimAccount`) to the ids acted on, and
    `changes` maps each changed setting to `{"old": ..., "new": ...}` (see
    `changed`) or, for a secret, to one of the `SECRET_*` words.
    """
    entry = AuditEntry(
        token_name=token_name,
        action=action,
        application_id=application_id,
        object_ids={name: str(value) for name, value in (objects or {}).items()},
        changes=_jsonable(dict(changes or {})),
    )
    session.add(entry)
    by = f"token {token_name!r}" if token_name else "the command line"
    where = f" on application {application_id}" if application_id else ""
    logger.info("Audit: %s by %s%s.", action, by, where)
    return entry


def changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Return `{"name": {"old": ..., "new": ...}}` for each value that differs."""
    return {
        name: {"old": old.get(name), "new": value}
        for name, value in new.items()
        if old.get(name) != value
    }


def secret_change(*, was_set: bool, new_value: bool, cleared: bool) -> str | None:
    """Return the word that records a secret's change, or None if it stayed.

    `new_value` is whether a new secret was saved, and `cleared` whether
    the old one was dropped without a new one.
    """
    if new_value:
        return SECRET_REPLACED if was_set else SECRET_SET
    if cleared and was_set:
        return SECRET_CLEARED
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def list_audit_entries(
    session: AsyncSession,
    page: PageRequest,
    *,
    application_id: uuid.UUID | None = None,
    action: str | None = None,
) -> Page[AuditEntry]:
    """List audit entries, newest first."""
    statement = select(AuditEntry).order_by(
        col(AuditEntry.created_at).desc(), col(AuditEntry.id).desc()
    )
    if application_id is not None:
        statement = statement.where(AuditEntry.application_id == application_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    return await fetch_page(session, statement, page)
