"""Folder membership changes, carried to the folders' linked groups by mode."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.automation import tickets
from domain.automation.dispatch import next_sequence
from domain.automation.settings import get_provisioning_settings
from domain.models import (
    Folder,
    FolderUser,
    OutboxEvent,
    ProvisioningEvent,
    ProvisioningMode,
    ScimConnection,
    ScimGroup,
    TicketAction,
    User,
)
from domain.users import user_label


async def linked_applications(
    session: AsyncSession, folder_id: uuid.UUID
) -> list[uuid.UUID]:
    """Return the connected applications in which a group is linked to the folder."""
    statement = (
        select(ScimGroup.application_id)
        .join(
            ScimConnection,
            col(ScimConnection.application_id) == col(ScimGroup.application_id),
        )
        .where(ScimGroup.folder_id == folder_id)
    )
    return list(await session.exec(statement))


async def emit_membership_change(
    session: AsyncSession, folder: Folder, user: User, event: ProvisioningEvent
) -> None:
    """Record that `user` joined or left `folder`, for each linked group.

    Joining follows the mode of USER_GAINS_ACCESS and leaving that of
    USER_LOSES_ACCESS: a ticket, or a job that brings the group in line. The
    job queues behind the user's own events, so an account created for the
    user exists before the group takes it as a member.
    """
    for application_id in await linked_applications(session, folder.id):
        settings = await get_provisioning_settings(session, application_id)
        mode = settings.mode_for(event)
        if mode is ProvisioningMode.AUTOMATIC:
            queue_group_sync(session, application_id, folder.id, user.id, event)
        elif mode is ProvisioningMode.NOTIFICATION:
            await _notify(session, application_id, folder, user, event)
    await session.flush()


def queue_group_sync(
    session: AsyncSession,
    application_id: uuid.UUID,
    folder_id: uuid.UUID,
    user_id: uuid.UUID,
    event: ProvisioningEvent,
) -> None:
    session.add(
        OutboxEvent(
            sequence=next_sequence(),
            application_id=application_id,
            event=event,
            user_id=user_id,
            folder_id=folder_id,
        )
    )


async def follow_linked_account(
    session: AsyncSession, application_id: uuid.UUID, user: User
) -> None:
    """Carry a newly linked account into the groups of its user's folders.

    An account created or linked after its user joined a folder missed the
    group linked to that folder. Each such group follows the mode of
    USER_GAINS_ACCESS: a job that brings it in line, or a ticket.
    """
    settings = await get_provisioning_settings(session, application_id)
    mode = settings.mode_for(ProvisioningEvent.USER_GAINS_ACCESS)
    if mode is ProvisioningMode.MANUAL:
        return
    statement = (
        select(Folder)
        .join(ScimGroup, col(ScimGroup.folder_id) == col(Folder.id))
        .join(FolderUser, col(FolderUser.folder_id) == col(Folder.id))
        .where(
            ScimGroup.application_id == application_id, FolderUser.user_id == user.id
        )
    )
    for folder in await session.exec(statement):
        if mode is ProvisioningMode.AUTOMATIC:
            queue_group_sync(
                session,
                application_id,
                folder.id,
                user.id,
                ProvisioningEvent.USER_GAINS_ACCESS,
            )
        else:
            await _notify(
                session,
                application_id,
                folder,
                user,
                ProvisioningEvent.USER_GAINS_ACCESS,
            )


async def queue_syncs_for_new_accounts(
    session: AsyncSession, application_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> None:
    """Queue a sync of every linked group whose folder contains one of the users.

    A user whose account did not exist when they joined a folder was left out
    of its group; their new account joins it now.
    """
    if not user_ids:
        return
    statement = (
        select(ScimGroup.folder_id, FolderUser.user_id)
        .join(FolderUser, col(FolderUser.folder_id) == col(ScimGroup.folder_id))
        .where(
            ScimGroup.application_id == application_id,
            col(FolderUser.user_id).in_(user_ids),
        )
    )
    for folder_id, user_id in await session.exec(statement):
        if folder_id is not None:
            queue_group_sync(
                session,
                application_id,
                folder_id,
                user_id,
                ProvisioningEvent.USER_GAINS_ACCESS,
            )


async def _notify(
    session: AsyncSession,
    application_id: uuid.UUID,
    folder: Folder,
    user: User,
    event: ProvisioningEvent,
) -> None:
    change = "joined" if event is ProvisioningEvent.USER_GAINS_ACCESS else "left"
    await tickets.upsert_ticket(
        session,
        open_key=f"group:{application_id}:{folder.id}",
        application_id=application_id,
        event=event,
        action=TicketAction.SYNC_GROUP_MEMBERS,
        message=(
            f"{user_label(user)} {change} folder {folder.name!r}. "
            "Resolve this ticket to bring the members of its linked group in line "
            "with the folder, or dismiss it to leave the group as it is."
        ),
        user_id=user.id,
        folder_id=folder.id,
    )
