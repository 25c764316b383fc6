"""The fast path of a batch job: creating the accounts of users who gained access.

For the gain events of one application, the users, their access, their
matching accounts, the settings, the connection and the user mapping are read
with one query each. The operations start with one commit, the POSTs go out
through one SCIM client with at most `CONCURRENCY` in flight, and the
successes, and the events left unsent after `SEND_BUDGET`, are written with
one commit. Each failure is then settled in a session of its own, with the
same retries and tickets as a single event.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import guard, outbox
from domain.automation.groups import queue_syncs_for_new_accounts
from domain.automation.handlers import ORDER_DELAY, Outcome, fail_or_retry
from domain.automation.settings import dry_run_enabled, get_provisioning_settings
from domain.automation.state import AccessState, settling_action
from domain.automation.tracking import access_pairs
from domain.bulk import insert_rows, new_row, update_rows
from domain.db import session_scope
from domain.errors import DomainError
from domain.mapping.entries import Mapping, MappingKind
from domain.mapping.store import get_mapping
from domain.models import (
    EventStatus,
    OutboxEvent,
    ProvisioningOperation,
    ScimAccount,
    ScimConnection,
    TicketAction,
    User,
)
from domain.provisioning.account_creation import (
    CREATE_ACCOUNT,
    linked_elsewhere,
    send_creation,
)
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.matching import match_accounts
from domain.provisioning.mirror import (
    account_columns,
    accounts_by_scim_ids,
    apply_account,
)
from domain.provisioning.operations import (
    Subject,
    delete_operations,
    fail,
    record_target_failure,
    start_operations,
    succeeded_row,
)
from domain.scim.errors import ScimError
from domain.scim.payloads import account_fields
from domain.users import users_by_ids

logger = logging.getLogger(__name__)

#: POSTs in flight at once within one job. httpx's async connection pool
#: spends more CPU per request the more requests it holds: against the bench
#: stub on 2 cores, about 0.9 ms per POST at 2 in flight, 1.0 ms at 4 and
#: 1.8 ms at 16. The worker's threads run several jobs at once, so a small
#: number per job still keeps the target busy.
CONCURRENCY = 4

#: Seconds after which a job starts no more POSTs. The creations it did not
#: start go back to the outbox unattempted, so a slow target cannot keep a
#: batch running into the actor's time limit.
SEND_BUDGET = 20.0


@dataclass
class _Creation:
    event: OutboxEvent
    user: User
    operation_id: uuid.UUID | None = None
    resource: dict[str, Any] | None = None
    status: int | None = None
    error: ScimError | DomainError | None = None
    #: Whether an earlier attempt may have created the account, so the POST
    #: must wait for a search of the target.
    look_first: bool = False
    #: Set when the job ran out of `SEND_BUDGET` before sending anything.
    deferred: bool = False


async def settle_creations(
    session: AsyncSession, application_id: uuid.UUID, events: list[OutboxEvent]
) -> dict[uuid.UUID, Outcome]:
    """Settle claimed USER_GAINS_ACCESS events of one application.

    Returns the outcome of each event settled here. The caller settles the
    others one at a time: all of them when the application is not connected
    or dry run is on, or another request has taken one of the locks, because
    the single-event path reports those cases.
    """
    outcomes: dict[uuid.UUID, Outcome] = {}
    mapping = await get_mapping(session, application_id, MappingKind.USER)
    creations = await _creations_needed(
        session, application_id, mapping, events, outcomes
    )
    if not creations:
        await session.commit()
        return outcomes
    try:
        connection = await require_connection(session, application_id)
    except DomainError:
        await session.commit()
        return outcomes
    if await dry_run_enabled(session, application_id):
        # The single-event path records each withheld POST in the log.
        await session.commit()
        return outcomes

    for creation in creations:
        creation.event.attempts += 1
        creation.look_first = await outbox.retry_must_look_first(
            session, creation.event
        )
    subjects = [
        Subject(
            application_id=application_id,
            trigger=f"{guard.AUTOMATIC_TRIGGER}{creation.event.event.value}",
            user_id=creation.user.id,
        )
        for creation in creations
    ]
    try:
        operation_ids = await start_operations(session, subjects, CREATE_ACCOUNT)
    except DomainError:
        # Rolled back: nothing of this group was saved, and its events are
        # still RUNNING for the single-event path.
        logger.info(
            "An account creation in application %s is already running; settling "
            "%d events one at a time.",
            application_id,
            len(subjects),
        )
        return {}
    for creation, operation_id in zip(creations, operation_ids, strict=True):
        creation.operation_id = operation_id

    await _send(connection, mapping, creations)
    await _save_successes(session, application_id, creations, outcomes)
    for creation in creations:
        if creation.error is not None:
            outcomes[creation.event.id] = await _settle_failure(creation)
    return outcomes


async def _creations_needed(
    session: AsyncSession,
    application_id: uuid.UUID,
    mapping: Mapping,
    events: list[OutboxEvent],
    outcomes: dict[uuid.UUID, Outcome],
) -> list[_Creation]:
    """Finish the events that need no account; return the others' creations."""
    users = await users_by_ids(
        session, [event.user_id for event in events if event.user_id is not None]
    )
    with_access = await access_pairs(session, users, [application_id])
    accounts = await match_accounts(session, application_id, list(users.values()))
    settings = await get_provisioning_settings(session, application_id)

    creations = []
    for event in events:
        user = users.get(event.user_id) if event.user_id else None
        if user is None:
            outbox.finish(event, EventStatus.DONE, "The user no longer exists.")
            outcomes[event.id] = Outcome.DONE
            continue
        state = AccessState(
            user=user,
            has_access=(user.id, application_id) in with_access,
            account=accounts.get(user.id),
            settings=settings,
            mapping=mapping,
        )
        action = settling_action(event.event, state)
        if action is None:
            outbox.finish(
                event, EventStatus.DONE, "Nothing to do: the target already agrees."
            )
            outcomes[event.id] = Outcome.DONE
        elif action is TicketAction.CREATE_ACCOUNT:
            creations.append(_Creation(event=event, user=user))
    return creations


async def _send(
    connection: ScimConnection, mapping: Mapping, creations: list[_Creation]
) -> None:
    """POST the users concurrently; store each resource or error on its creation.

    Creations still waiting once `SEND_BUDGET` has passed are marked deferred
    and sent nothing.
    """
    limit = asyncio.Semaphore(CONCURRENCY)
    deadline = asyncio.get_running_loop().time() + SEND_BUDGET

    async def send_one(client: Any, creation: _Creation) -> None:
        async with limit:
            if asyncio.get_running_loop().time() > deadline:
                creation.deferred = True
                return
            try:
                creation.resource, creation.status = await send_creation(
                    client,
                    creation.user,
                    mapping,
                    look_first=creation.look_first,
                )
            except ScimError as exc:
                logger.info(
                    "Creating account of user %s failed: %s", creation.user.id, exc
                )
                creation.error = exc

    try:
        async with (
            open_client(connection, dry_run=False) as client,
            asyncio.TaskGroup() as group,
        ):
            for creation in creations:
                group.create_task(send_one(client, creation))
    except ScimError as exc:  # the token did not decrypt, so nothing was sent
        for creation in creations:
            creation.error = exc


async def _save_successes(
    session: AsyncSession,
    application_id: uuid.UUID,
    creations: list[_Creation],
    outcomes: dict[uuid.UUID, Outcome],
) -> None:
    """Mirror and link the created accounts, and finish their events, in one commit.

    New mirror rows, the operations and the events are written with bulk
    statements. An account that another user is linked to, in the mirror or
    earlier in this batch, is mirrored but not linked, and its creation gets
    the ALREADY_LINKED error, as in the single path.
    """
    done = [c for c in creations if c.error is None and c.resource is not None]
    mirrored = await accounts_by_scim_ids(
        session,
        application_id,
        [account_fields(c.resource).scim_id for c in done if c.resource],
    )
    new_accounts: dict[str, dict[str, Any]] = {}
    operation_rows, event_rows, linked_users = [], [], []
    for creation in done:
        assert creation.resource is not None and creation.operation_id is not None
        columns = account_columns(creation.resource)
        owner_id = _link(application_id, creation, columns, mirrored, new_accounts)
        if owner_id != creation.user.id:
            account = mirrored.get(columns["scim_id"]) or ScimAccount(**columns)
            creation.error = await linked_elsewhere(
                session, account, creation.user, owner_id
            )
            continue
        scim_id, status = columns["scim_id"], creation.status
        operation_rows.append(
            succeeded_row(creation.operation_id, scim_id=scim_id, status=status)
        )
        email = creation.user.email
        note = f"Account {columns['user_name']!r} is linked to {email!r}."
        event_rows.append(
            outbox.finished_row(creation.event.id, EventStatus.DONE, note)
        )
        outcomes[creation.event.id] = Outcome.DONE
        linked_users.append(creation.user.id)

    deferred = [creation for creation in creations if creation.deferred]
    if deferred:
        logger.info(
            "The %g s send budget ran out; %d account creations in application %s "
            "go back to the outbox unsent.",
            SEND_BUDGET,
            len(deferred),
            application_id,
        )
    event_rows.extend(_put_back(creation, outcomes) for creation in deferred)
    await delete_operations(
        session,
        [creation.operation_id for creation in deferred if creation.operation_id],
    )
    await insert_rows(session, ScimAccount, list(new_accounts.values()))
    await update_rows(session, ProvisioningOperation, operation_rows)
    await update_rows(session, OutboxEvent, event_rows)
    await queue_syncs_for_new_accounts(session, application_id, linked_users)
    await session.commit()
    logger.info(
        "Accounts created in application %s: %d.", application_id, len(linked_users)
    )


def _put_back(
    creation: _Creation, outcomes: dict[uuid.UUID, Outcome]
) -> dict[str, Any]:
    """Return the event row that hands a deferred creation back to the relay."""
    event = creation.event
    outcomes[event.id] = Outcome.WAITING
    return outbox.unattempted_row(event.id, event.attempts - 1)


def _link(
    application_id: uuid.UUID,
    creation: _Creation,
    columns: dict[str, Any],
    mirrored: dict[str, ScimAccount],
    new_accounts: dict[str, dict[str, Any]],
) -> uuid.UUID:
    """Mirror the created resource, linked to its user unless another user is.

    Updates a mirrored row in place, else adds a row to `new_accounts`.
    Returns the id of the user the account is linked to.
    """
    user_id = creation.user.id
    account = mirrored.get(columns["scim_id"])
    if account is not None:
        apply_account(account, creation.resource or {})
        if account.user_id is None:
            account.user_id = user_id
        return account.user_id
    # A target that returned one resource for two POSTs keeps the first link.
    row = new_accounts.setdefault(
        columns["scim_id"],
        new_row(ScimAccount, application_id=application_id, user_id=user_id, **columns),
    )
    linked_user_id: uuid.UUID = row["user_id"]
    return linked_user_id


async def _settle_failure(creation: _Creation) -> Outcome:
    """Fail the creation's operation, then retry or fail its event for good.

    Runs in a session of its own, as a single event's failure does, so a
    collision on a ticket cannot undo the batch's successes.
    """
    assert creation.operation_id is not None and creation.error is not None
    event_id, user = creation.event.id, creation.user
    try:
        async with session_scope() as session:
            event = await session.get(OutboxEvent, event_id)
            operation = await session.get(ProvisioningOperation, creation.operation_id)
            if event is None or operation is None:
                return Outcome.SKIPPED
            error = creation.error
            if isinstance(error, ScimError):
                doing = f"create the account of {user.email!r}"
                error = await record_target_failure(session, operation, error, doing)
            else:
                fail(operation, error)
                operation.target_status = creation.status
            result = await fail_or_retry(
                session, event, user, TicketAction.CREATE_ACCOUNT, error
            )
            return result.outcome
    except IntegrityError:
        logger.info("Event %s collided with a concurrent write; retrying.", event_id)
        async with session_scope() as session:
            event = await session.get(OutboxEvent, event_id)
            if event is not None and event.status is EventStatus.RUNNING:
                outbox.reschedule(event, ORDER_DELAY)
        return Outcome.WAITING
