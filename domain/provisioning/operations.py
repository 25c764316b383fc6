"""The provisioning log: one row per write the product makes to a target."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.bulk import insert_rows, new_row
from domain.errors import DomainError, DryRun, ErrorCode
from domain.models import OperationStatus, ProvisioningOperation
from domain.models.columns import utcnow
from domain.pagination import Page, PageRequest, fetch_page
from domain.provisioning.target_errors import target_error
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import ScimError, ScimResponseError

#: Statuses with which a target declines to handle a request, so it wrote
#: nothing: 429 Too Many Requests (RFC 6585 4) and 503 Service Unavailable
#: (RFC 9110 15.6.4).
NOT_ACTED_ON = (429, 503)

#: An operation still running after this long is taken as abandoned by a
#: process that died, and its lock is released.
LOCK_EXPIRES = timedelta(minutes=2)


@dataclass(frozen=True)
class Subject:
    """Subject of an operation, and the trigger that requested it."""

    application_id: uuid.UUID
    trigger: str
    user_id: uuid.UUID | None = None
    folder_id: uuid.UUID | None = None
    #: The target's resource, when the operation acts on one that exists.
    scim_id: str | None = None


async def start_operation(
    session: AsyncSession, subject: Subject, action: str
) -> ProvisioningOperation:
    """Record a RUNNING operation, holding its lock until it finishes.

    The lock covers the action on the subject's SCIM resource, else on its user
    or folder. Raises `DomainError` with code IN_PROGRESS when the same action
    on the same object is already running, so a second click does not write
    twice.
    """
    target = subject.scim_id or subject.user_id or subject.folder_id
    lock_key = f"{subject.application_id}:{action}:{target}"
    await _expire_abandoned_lock(session, lock_key)
    operation = ProvisioningOperation(
        application_id=subject.application_id,
        action=action,
        trigger=subject.trigger,
        user_id=subject.user_id,
        folder_id=subject.folder_id,
        scim_id=subject.scim_id,
        status=OperationStatus.RUNNING,
        attempts=1,
        lock_key=lock_key,
        started_at=utcnow(),
    )
    session.add(operation)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise DomainError(
            f"{action} for {target} is already running; wait for it to finish and "
            "check the provisioning log.",
            code=ErrorCode.IN_PROGRESS,
            references={subject.user_id: "User", subject.folder_id: "Folder"},
        ) from exc
    return operation


async def start_operations(
    session: AsyncSession, subjects: Sequence[Subject], action: str
) -> list[uuid.UUID]:
    """Record one RUNNING operation per subject, with one commit for them all.

    The batch form of `start_operation`, which returns the operations' ids in
    the order of `subjects`. It takes the same locks and raises the same
    IN_PROGRESS error, after rolling back, when any one of them is held, so
    the caller starts none of the batch's actions. Unlike `start_operation`,
    it does not release abandoned locks first, which would cost an UPDATE per
    batch: a batch that meets one falls back to single events, which do.
    """
    rows = [_new_operation_row(subject, action) for subject in subjects]
    try:
        await insert_rows(session, ProvisioningOperation, rows)
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise DomainError(
            f"{action} is already running for one of {len(subjects)} objects; "
            "wait for it to finish and check the provisioning log.",
            code=ErrorCode.IN_PROGRESS,
        ) from exc
    return [row["id"] for row in rows]


def _new_operation_row(subject: Subject, action: str) -> dict[str, Any]:
    target = subject.scim_id or subject.user_id or subject.folder_id
    return new_row(
        ProvisioningOperation,
        application_id=subject.application_id,
        action=action,
        trigger=subject.trigger,
        user_id=subject.user_id,
        folder_id=subject.folder_id,
        scim_id=subject.scim_id,
        status=OperationStatus.RUNNING,
        attempts=1,
        lock_key=f"{subject.application_id}:{action}:{target}",
        started_at=utcnow(),
    )


async def delete_operations(
    session: AsyncSession, operation_ids: Sequence[uuid.UUID]
) -> None:
    """Delete operations that started but sent nothing, releasing their locks."""
    if operation_ids:
        await session.exec(
            delete(ProvisioningOperation).where(
                col(ProvisioningOperation.id).in_(operation_ids)
            )
        )


def succeeded_row(
    operation_id: uuid.UUID, *, scim_id: str | None, status: int | None
) -> dict[str, Any]:
    """Return the columns that `succeed` sets, for `bulk.update_rows`."""
    return {
        "id": operation_id,
        "status": OperationStatus.SUCCEEDED,
        "scim_id": scim_id,
        "target_status": status,
        "detail": None,
        "lock_key": None,
        "finished_at": utcnow(),
    }


async def _expire_abandoned_lock(session: AsyncSession, lock_key: str) -> None:
    """Fail an operation that has kept `lock_key` past `LOCK_EXPIRES`.

    A process killed mid-operation leaves its lock set; without this, the
    same action on the same object would be refused forever.
    """
    await session.exec(
        update(ProvisioningOperation)
        .where(col(ProvisioningOperation.lock_key) == lock_key)
        .where(col(ProvisioningOperation.started_at) < utcnow() - LOCK_EXPIRES)
        .values(
            lock_key=None,
            status=OperationStatus.FAILED,
            error="Abandoned: the process running it stopped before it finished.",
            finished_at=utcnow(),
        )
    )


async def abandon_running_operations(
    session: AsyncSession,
    application_id: uuid.UUID,
    *,
    trigger_prefix: str,
    user_id: uuid.UUID | None = None,
    folder_id: uuid.UUID | None = None,
    reason: str,
) -> int:
    """Fail the RUNNING operations of a job known to be dead, releasing their locks.

    Selects the operations of one application whose trigger starts with
    `trigger_prefix`, on `folder_id` when given, else on `user_id`. Without
    this, a retry of the dead job would wait `LOCK_EXPIRES` for its lock.
    Returns how many operations were failed; does not commit.
    """
    statement = (
        update(ProvisioningOperation)
        .where(col(ProvisioningOperation.application_id) == application_id)
        .where(col(ProvisioningOperation.status) == OperationStatus.RUNNING)
        .where(col(ProvisioningOperation.trigger).startswith(trigger_prefix))
        .values(
            lock_key=None,
            status=OperationStatus.FAILED,
            error=reason,
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if folder_id is not None:
        statement = statement.where(col(ProvisioningOperation.folder_id) == folder_id)
    else:
        statement = statement.where(col(ProvisioningOperation.user_id) == user_id)
    result = await session.exec(statement)
    return int(result.rowcount)


async def may_have_written(
    session: AsyncSession,
    application_id: uuid.UUID,
    user_id: uuid.UUID,
    action: str,
    *,
    trigger_prefix: str,
    since: datetime,
) -> bool:
    """Return whether a failed `action` on the user since `since` may have
    reached the target anyway.

    Only failures with a status in `NOT_ACTED_ON` are known to have written
    nothing. A timeout, a lost connection, a dead worker or a 500 leaves the
    outcome unknown, so the retry must look for the resource before writing.
    """
    # NOTE: a proxy in front of the target may return 503 after the target
    # acted. A create retried then gets 409 and adopts the account, unless the
    # target lets two accounts share a userName.
    statement = (
        select(ProvisioningOperation.id)
        .where(ProvisioningOperation.application_id == application_id)
        .where(ProvisioningOperation.user_id == user_id)
        .where(ProvisioningOperation.action == action)
        .where(ProvisioningOperation.status == OperationStatus.FAILED)
        .where(col(ProvisioningOperation.trigger).startswith(trigger_prefix))
        .where(col(ProvisioningOperation.created_at) >= since)
        .where(
            col(ProvisioningOperation.target_status).is_(None)
            | col(ProvisioningOperation.target_status).not_in(NOT_ACTED_ON)
        )
    )
    return (await session.exec(statement.limit(1))).first() is not None


async def discard_operation(
    session: AsyncSession, operation: ProvisioningOperation
) -> None:
    """Delete an operation that sent nothing, releasing its lock.

    For a request that took the lock only to find that another request had
    already done the work while it waited.
    """
    await session.delete(operation)
    await session.commit()


def succeed(
    operation: ProvisioningOperation,
    *,
    scim_id: str | None,
    status: int | None,
    detail: str | None = None,
) -> None:
    operation.status = OperationStatus.SUCCEEDED
    operation.scim_id = scim_id
    operation.target_status = status
    operation.detail = detail
    _finish(operation)


def fail(operation: ProvisioningOperation, exc: ScimError | DomainError) -> None:
    operation.status = OperationStatus.FAILED
    operation.error = exc.message
    if isinstance(exc, ScimResponseError):
        operation.target_status = exc.status
    _finish(operation)


async def record_target_failure(
    session: AsyncSession,
    operation: ProvisioningOperation,
    exc: ScimError,
    doing: str,
) -> DomainError:
    """Mark the operation FAILED by `exc`, commit, and return the error to raise.

    `doing` is a verb phrase for the message, such as "delete the account 'x'".
    """
    error = target_error(exc, doing)
    fail(operation, error)
    if isinstance(exc, ScimResponseError):
        operation.target_status = exc.status
    await session.commit()
    return error


def withhold(operation: ProvisioningOperation, withheld: WriteWithheld) -> None:
    """Finish the operation as WITHHELD: dry run recorded `withheld`, sent nothing."""
    operation.status = OperationStatus.WITHHELD
    operation.dry_run = True
    operation.attempts = 0
    operation.request_method = withheld.method
    operation.request_path = withheld.path
    operation.request_body = withheld.body
    operation.target_status = None
    operation.detail = "Dry run: the request was recorded and not sent."
    _finish(operation)


async def record_withheld(
    session: AsyncSession,
    operation: ProvisioningOperation,
    withheld: WriteWithheld,
    doing: str,
) -> DryRun:
    """Record the operation as a dry run, commit, and return the error to raise.

    `doing` is a verb phrase for the message, such as "delete the account 'x'".
    """
    withhold(operation, withheld)
    await session.commit()
    return dry_run_error(operation.application_id, doing, requests=1)


def dry_run_error(application_id: uuid.UUID, doing: str, *, requests: int) -> DryRun:
    recorded = "request was" if requests == 1 else f"{requests} requests were"
    return DryRun(
        f"Dry run is on for application {application_id}, so the {recorded} "
        f"recorded in the provisioning log and not sent to {doing}; turn dryRun "
        "off in the Settings tab to send writes again.",
        references={application_id: "Application"},
    )


def record_local_change(
    session: AsyncSession, subject: Subject, action: str
) -> ProvisioningOperation:
    """Add a SUCCEEDED operation for a change made in SmartLink only.

    Links between accounts and users, or groups and folders, send nothing to
    the target. They are logged with no attempts, so the log still shows who
    linked what.
    """
    operation = ProvisioningOperation(
        application_id=subject.application_id,
        action=action,
        trigger=subject.trigger,
        user_id=subject.user_id,
        folder_id=subject.folder_id,
        attempts=0,
        started_at=utcnow(),
    )
    succeed(operation, scim_id=subject.scim_id, status=None)
    session.add(operation)
    return operation


def _finish(operation: ProvisioningOperation) -> None:
    operation.lock_key = None
    operation.finished_at = utcnow()


async def list_operations(
    session: AsyncSession,
    application_id: uuid.UUID,
    page: PageRequest,
    status: OperationStatus | None = None,
    dry_run: bool | None = None,
) -> Page[ProvisioningOperation]:
    """List an application's operations, newest first.

    `dry_run` keeps only the dry-run operations (True) or the others (False).
    """
    statement = (
        select(ProvisioningOperation)
        .where(ProvisioningOperation.application_id == application_id)
        .order_by(
            col(ProvisioningOperation.created_at).desc(),
            col(ProvisioningOperation.id).desc(),
        )
    )
    if status is not None:
        statement = statement.where(ProvisioningOperation.status == status)
    if dry_run is not None:
        statement = statement.where(ProvisioningOperation.dry_run == dry_run)
    return await fetch_page(session, statement, page)
