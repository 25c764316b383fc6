"""Provisioning automation: settings, queued events and tickets."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Uuid
from sqlmodel import Field, SQLModel

from domain.config import get_settings
from domain.models.columns import (
    JSONColumn,
    UTCDateTime,
    application_fk,
    new_id,
    utcnow,
)


class ProvisioningMode(enum.Enum):
    MANUAL = "MANUAL"
    NOTIFICATION = "NOTIFICATION"
    AUTOMATIC = "AUTOMATIC"


class ProvisioningEvent(enum.Enum):
    USER_GAINS_ACCESS = "USER_GAINS_ACCESS"
    USER_LOSES_ACCESS = "USER_LOSES_ACCESS"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    USER_UPDATED = "USER_UPDATED"


class DeprovisionAction(enum.Enum):
    """Action applied to the target account when its user loses access."""

    DEACTIVATE = "DEACTIVATE"
    DELETE = "DELETE"


class EventStatus(enum.Enum):
    PENDING = "PENDING"
    ENQUEUED = "ENQUEUED"
    RUNNING = "RUNNING"
    HELD = "HELD"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TicketStatus(enum.Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    DISMISSED = "DISMISSED"


class TicketAction(enum.Enum):
    """The action that settles a ticket, performed by resolveTicket."""

    CREATE_ACCOUNT = "CREATE_ACCOUNT"
    DELETE_ACCOUNT = "DELETE_ACCOUNT"
    DEACTIVATE_ACCOUNT = "DEACTIVATE_ACCOUNT"
    UPDATE_ACCOUNT = "UPDATE_ACCOUNT"
    SYNC_GROUP_MEMBERS = "SYNC_GROUP_MEMBERS"
    RELEASE_HELD = "RELEASE_HELD"


def default_refresh_interval() -> int | None:
    """Return the refresh interval, in minutes, that new applications get.

    `SMARTLINK_DEFAULT_REFRESH_INTERVAL` sets it; 0 turns scheduled refreshes
    off by default.
    """
    minutes = get_settings().default_refresh_interval
    return minutes or None


class ProvisioningSettings(SQLModel, table=True):
    """The Settings tab of one application; a missing row means the defaults."""

    __tablename__ = "provisioning_settings"

    application_id: uuid.UUID = application_fk(primary_key=True)
    user_gains_access: ProvisioningMode = ProvisioningMode.MANUAL
    user_loses_access: ProvisioningMode = ProvisioningMode.MANUAL
    user_deactivated: ProvisioningMode = ProvisioningMode.MANUAL
    user_updated: ProvisioningMode = ProvisioningMode.MANUAL
    deprovision_action: DeprovisionAction = DeprovisionAction.DEACTIVATE
    #: Automatic deletions and deactivations allowed within the window before
    #: further ones wait for an admin to confirm them.
    mass_deprovision_threshold: int = 10
    mass_deprovision_window_minutes: int = 60
    #: The guard's current window: when it opened and the removals it counted.
    guard_window_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    guard_window_removals: int = 0
    #: While true, writes to the target are recorded as dry-run operations
    #: and not sent, but reads still go out.
    dry_run: bool = False
    #: Minutes between scheduled refreshes; None turns them off.
    refresh_interval: int | None = Field(default_factory=default_refresh_interval)

    def mode_for(self, event: ProvisioningEvent) -> ProvisioningMode:
        mode: ProvisioningMode = getattr(self, event.value.lower())
        return mode


class OutboxEvent(SQLModel, table=True):
    """An access change waiting for, or taken by, an automatic provisioning job.

    Written in the transaction of the change itself, so a crash between the
    change and the job loses nothing; the relay publishes pending rows.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_subject", "application_id", "user_id", "sequence"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    #: Increasing number that orders the events of one user and application.
    sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    application_id: uuid.UUID = application_fk()
    event: ProvisioningEvent
    user_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("users.id", ondelete="CASCADE")),
    )
    #: Set when the event brings the folder's linked group in line with the
    #: folder's members, rather than acting on the user's account.
    folder_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("folders.id", ondelete="CASCADE")),
    )
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
    status: EventStatus = EventStatus.PENDING
    attempts: int = 0
    #: Set when an admin confirmed a held deprovisioning, so the guard lets it pass.
    guard_released: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    enqueued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = None


class Ticket(SQLModel, table=True):
    """A message in SmartLink messaging asking an admin to settle a change."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status_created", "status", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    application_id: uuid.UUID = application_fk(index=True)
    event: ProvisioningEvent
    status: TicketStatus = TicketStatus.OPEN
    action: TicketAction | None = None
    message: str
    user_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("users.id", ondelete="CASCADE")),
    )
    folder_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("folders.id", ondelete="CASCADE")),
    )
    #: Unique while the ticket is open, so one user and application (or one
    #: held batch) have at most one open ticket; cleared when it closes.
    open_key: str | None = Field(default=None, unique=True)
    resolution: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
