"""Group membership: bring a linked group's members in line with its folder.

The group should list the accounts of the folder's members, as matched by
`domain.provisioning.matching`. Only the difference is sent: PATCH requests
that add or remove the changed members (RFC 7644 3.5.2), never the whole list
and never a `replace` of `members`, in chunks of `members_per_request`. A target
without PATCH gets a PUT of the full group instead (RFC 7644 3.5.1).

Members that are not accounts of the mirror (nested groups, or accounts
created in the target since the last refresh) are left where they are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation.settings import dry_run_enabled
from domain.errors import NotFound
from domain.folders import get_folder
from domain.models import (
    FolderUser,
    ProvisioningOperation,
    ScimConnection,
    ScimGroup,
    User,
)
from domain.provisioning.capabilities import (
    members_per_request,
    remember_update_method,
    supports_patch,
)
from domain.provisioning.connection import open_client, require_connection
from domain.provisioning.groups import linked_group
from domain.provisioning.matching import match_accounts
from domain.provisioning.mirror import accounts_by_scim_ids, apply_group
from domain.provisioning.operations import (
    Subject,
    dry_run_error,
    record_target_failure,
    start_operation,
    succeed,
    withhold,
)
from domain.provisioning.target_errors import target_error
from domain.scim.capabilities import UpdateMethod
from domain.scim.client import ScimClient, ScimResponse
from domain.scim.dry_run import WriteWithheld
from domain.scim.errors import ScimError, ScimNotFound, ScimResponseError
from domain.scim.payloads import (
    add_members_patch,
    get_key,
    group_fields,
    group_replacement,
    remove_members_patch,
)
from domain.scim.writes import METHOD_REJECTED

logger = logging.getLogger(__name__)

ADD_GROUP_MEMBERS = "ADD_GROUP_MEMBERS"
REMOVE_GROUP_MEMBERS = "REMOVE_GROUP_MEMBERS"
REPLACE_GROUP_MEMBERS = "REPLACE_GROUP_MEMBERS"

#: Statuses with which a target reports that it takes no PATCH: 501 Not
#: Implemented, which RFC 7644 3.12 gives for unsupported operations, 405
#: Method Not Allowed, and the 400 of targets that reject the PatchOp form.
NO_PATCH_STATUSES = METHOD_REJECTED

#: Folder members matched to accounts per query.
USERS_PER_QUERY = 500


@dataclass(frozen=True)
class MembershipPlan:
    """The members a group lists, and the changes that bring it in line."""

    current: list[str]
    add: list[str]
    remove: list[str]

    @property
    def is_empty(self) -> bool:
        return not self.add and not self.remove

    @property
    def target_members(self) -> list[str]:
        removed = set(self.remove)
        return [m for m in self.current if m not in removed] + self.add


@dataclass(frozen=True)
class MembershipSync:
    """A group after its members were brought in line, and what changed."""

    group: ScimGroup
    added: int
    removed: int


class _PatchUnsupported(Exception):
    """Raised when the target responds to a first PATCH with 405 or 501."""


async def sync_group_members(
    session: AsyncSession,
    application_id: uuid.UUID,
    folder_id: uuid.UUID,
    *,
    trigger: str,
) -> MembershipSync:
    """Bring the members of the folder's linked group in line with the folder.

    Reads the group from the target first, so the changes are computed from
    what it lists now, not from a stale mirror. Each request is logged as an
    operation and committed before the next one, so a failure leaves the
    earlier chunks recorded. The failure is raised as a `DomainError`. In dry
    run, every request is logged unsent, the mirror takes the members the
    target lists, and `DryRun` is raised.
    """
    connection = await require_connection(session, application_id)
    dry_run = await dry_run_enabled(session, application_id)
    folder = await get_folder(session, folder_id)
    group = await linked_group(session, application_id, folder.id)
    if group is None:
        raise NotFound(
            f"Folder {folder.name!r} has no linked group in application "
            f"{application_id}; create one with createGroup, or link one with "
            "associateFolder.",
            field=["folderId"],
            references={application_id: "Application"},
        )
    subject = Subject(
        application_id=application_id,
        trigger=trigger,
        folder_id=folder.id,
        scim_id=group.scim_id,
    )

    withheld = 0
    async with open_client(connection, dry_run=dry_run) as client:
        resource = await _read_group(session, client, group)
        plan = await plan_membership(session, application_id, folder.id, resource)
        current: dict[str, Any] | None = resource
        if not plan.is_empty:
            writer = _MemberWriter(session, client, connection, subject, group)
            current = await writer.write(resource, plan)
            withheld = writer.withheld

    if withheld:
        apply_group(group, resource)
        await session.commit()
        doing = f"change the members of group {group.display_name!r}"
        raise dry_run_error(application_id, doing, requests=withheld)
    if current is not None:
        apply_group(group, current)
    else:
        group.member_ids = plan.target_members
    await session.commit()
    logger.info(
        "Group %s of folder %s: added %d members, removed %d.",
        group.id,
        folder.id,
        len(plan.add),
        len(plan.remove),
    )
    return MembershipSync(group=group, added=len(plan.add), removed=len(plan.remove))


async def _read_group(
    session: AsyncSession, client: ScimClient, group: ScimGroup
) -> dict[str, Any]:
    """GET the group; a 404 drops it from the mirror before raising."""
    try:
        return await client.get_resource("Groups", group.scim_id)
    except ScimNotFound as exc:
        name = group.display_name
        await session.delete(group)
        await session.commit()
        raise NotFound(
            f"Group {name!r} no longer exists in the target, so it was removed from "
            "the mirror; create a new one with createGroup.",
            field=["folderId"],
        ) from exc
    except ScimError as exc:
        raise target_error(exc, f"read the group {group.display_name!r}") from exc


async def plan_membership(
    session: AsyncSession,
    application_id: uuid.UUID,
    folder_id: uuid.UUID,
    resource: dict[str, Any],
) -> MembershipPlan:
    """Compare the members the group lists with the folder members' accounts."""
    current = group_fields(resource).member_ids
    desired = await folder_member_accounts(session, application_id, folder_id)
    known = await accounts_by_scim_ids(session, application_id, current)

    listed, expected = set(current), set(desired)
    return MembershipPlan(
        current=current,
        add=[scim_id for scim_id in desired if scim_id not in listed],
        remove=[m for m in current if m in known and m not in expected],
    )


async def folder_member_accounts(
    session: AsyncSession, application_id: uuid.UUID, folder_id: uuid.UUID
) -> list[str]:
    """Return the SCIM ids of the folder members' accounts, by member email."""
    statement = (
        select(User)
        .where(
            col(User.id).in_(
                select(FolderUser.user_id).where(FolderUser.folder_id == folder_id)
            )
        )
        .order_by(col(User.email_key))
    )
    members = list(await session.exec(statement))

    scim_ids: list[str] = []
    for start in range(0, len(members), USERS_PER_QUERY):
        batch = members[start : start + USERS_PER_QUERY]
        accounts = await match_accounts(session, application_id, batch)
        scim_ids.extend(accounts[u.id].scim_id for u in batch if u.id in accounts)
    return list(dict.fromkeys(scim_ids))


class _MemberWriter:
    """Sends a plan's changes to the target, one logged operation per request."""

    def __init__(
        self,
        session: AsyncSession,
        client: ScimClient,
        connection: ScimConnection,
        subject: Subject,
        group: ScimGroup,
    ) -> None:
        self.session = session
        self.client = client
        self.connection = connection
        self.subject = subject
        self.group = group
        #: Requests that a dry run recorded instead of sending.
        self.withheld = 0

    async def write(
        self, resource: dict[str, Any], plan: MembershipPlan
    ) -> dict[str, Any] | None:
        """Apply the plan; return the group as the target now lists it, if read."""
        if supports_patch(self.connection):
            try:
                body = await self._patch(plan)
            except _PatchUnsupported:
                logger.info(
                    "Target of group %s has no PATCH; replacing the group.",
                    self.group.id,
                )
                body = await self._put(resource, plan)
                # The PUT worked where PATCH did not, so later updates skip PATCH.
                remember_update_method(self.connection, UpdateMethod.PUT)
                await self.session.commit()
        else:
            body = await self._put(resource, plan)

        if self.withheld:
            return None
        if body is not None and get_key(body, "members") is not None:
            return body
        return await self._read_back()

    async def _patch(self, plan: MembershipPlan) -> dict[str, Any] | None:
        """Send the removals, then the additions, in chunks; return the last body.

        Removals go first, so access that should end ends before any is added.
        """
        size = members_per_request(self.connection)
        steps: list[tuple[str, list[str], Callable[[list[str]], dict[str, Any]]]] = [
            (REMOVE_GROUP_MEMBERS, plan.remove, remove_members_patch),
            (ADD_GROUP_MEMBERS, plan.add, add_members_patch),
        ]
        body = None
        first = True
        for action, member_ids, build in steps:
            for chunk in _chunks(member_ids, size):
                response = await self._send_patch(action, chunk, build(chunk), first)
                body, first = response.body, False
        return body

    async def _send_patch(
        self, action: str, chunk: list[str], payload: dict[str, Any], first: bool
    ) -> ScimResponse:
        operation = await start_operation(self.session, self.subject, action)
        try:
            response = await self.client.patch("Groups", self.group.scim_id, payload)
        except WriteWithheld as withheld:
            return await self._record_withheld(operation, withheld)
        except ScimError as exc:
            doing = f"{_verb(action)} members of group {self.group.display_name!r}"
            error = await record_target_failure(self.session, operation, exc, doing)
            if (
                first
                and isinstance(exc, ScimResponseError)
                and exc.status in NO_PATCH_STATUSES
            ):
                raise _PatchUnsupported() from exc
            logger.info("PATCH of group %s failed: %s", self.group.id, exc)
            raise error from exc

        done = "Added" if action == ADD_GROUP_MEMBERS else "Removed"
        detail = f"{done} {_count(len(chunk))}."
        succeed(
            operation,
            scim_id=self.group.scim_id,
            status=response.status,
            detail=detail,
        )
        await self.session.commit()
        return response

    async def _put(
        self, resource: dict[str, Any], plan: MembershipPlan
    ) -> dict[str, Any] | None:
        operation = await start_operation(
            self.session, self.subject, REPLACE_GROUP_MEMBERS
        )
        payload = group_replacement(resource, plan.target_members)
        try:
            response = await self.client.replace("Groups", self.group.scim_id, payload)
        except WriteWithheld as withheld:
            return (await self._record_withheld(operation, withheld)).body
        except ScimError as exc:
            logger.info("PUT of group %s failed: %s", self.group.id, exc)
            doing = f"replace the members of group {self.group.display_name!r}"
            raise await record_target_failure(
                self.session, operation, exc, doing
            ) from exc

        detail = (
            f"Sent the full member list ({_count(len(plan.target_members))}): "
            f"added {len(plan.add)}, removed {len(plan.remove)}."
        )
        succeed(
            operation,
            scim_id=self.group.scim_id,
            status=response.status,
            detail=detail,
        )
        await self.session.commit()
        return response.body

    async def _record_withheld(
        self, operation: ProvisioningOperation, withheld: WriteWithheld
    ) -> ScimResponse:
        """Log a dry run's request as its own operation, and go on to the next."""
        withhold(operation, withheld)
        await self.session.commit()
        self.withheld += 1
        return ScimResponse(status=0, body=None)

    async def _read_back(self) -> dict[str, Any] | None:
        """GET the group after the writes; None when that read fails.

        The writes succeeded by then, so a failed read is logged, not raised,
        and the mirror takes the planned member list instead.
        """
        try:
            return await self.client.get_resource("Groups", self.group.scim_id)
        except ScimError as exc:
            logger.warning(
                "Reading group %s after changing its members failed: %s",
                self.group.id,
                exc,
            )
            return None


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def _verb(action: str) -> str:
    return "add" if action == ADD_GROUP_MEMBERS else "remove"


def _count(members: int) -> str:
    return f"{members} member" if members == 1 else f"{members} members"
