"""The SCIM side: each application's connection, its mirror and its write log."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint, Uuid
from sqlmodel import Field, SQLModel

from domain.models.columns import (
    JSONColumn,
    UTCDateTime,
    application_fk,
    new_id,
    utcnow,
)


class ConnectionStatus(enum.Enum):
    NOT_CONFIGURED = "NOT_CONFIGURED"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"


class RefreshStatus(enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class OperationStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    #: Recorded by dry run and never sent to the target.
    WITHHELD = "WITHHELD"


class ScimConnection(SQLModel, table=True):
    """An application's SCIM endpoint, its encrypted token and its discovery."""

    __tablename__ = "scim_connections"

    application_id: uuid.UUID = application_fk(primary_key=True)
    base_url: str
    #: The bearer token, sealed by `domain.secrets` with the application id as
    #: associated data; never leaves the domain layer in clear.
    token_ciphertext: bytes | None = Field(default=None, repr=False)
    status: ConnectionStatus = ConnectionStatus.NOT_CONFIGURED
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = None
    service_provider_config: dict[str, Any] | None = Field(
        default=None, sa_type=JSONColumn
    )
    resource_types: list[Any] | None = Field(default=None, sa_type=JSONColumn)
    schemas: list[Any] | None = Field(default=None, sa_type=JSONColumn)
    #: The admin's capability overrides, keyed as
    #: `domain.scim.capabilities.OVERRIDE_KEYS`; they win over the discovery.
    capability_overrides: dict[str, Any] | None = Field(
        default=None, sa_type=JSONColumn
    )
    #: `PATCH` or `PUT`: the update method the target accepted after it
    #: rejected the other one; None until that happened. Cleared on reconnect.
    update_method: str | None = None


class ScimAccount(SQLModel, table=True):
    """A mirrored SCIM User of a target, optionally linked to a SmartLink user."""

    __tablename__ = "scim_accounts"
    __table_args__ = (
        UniqueConstraint("application_id", "scim_id"),
        UniqueConstraint("application_id", "user_id"),
        Index("ix_scim_accounts_app_user_name", "application_id", "user_name_key"),
        Index("ix_scim_accounts_app_email", "application_id", "email_key"),
        Index("ix_scim_accounts_app_external", "application_id", "external_uuid"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    application_id: uuid.UUID = application_fk()
    scim_id: str
    user_name: str
    user_name_key: str
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    email_key: str | None = None
    active: bool | None = None
    external_id: str | None = None
    #: `external_id` read as a UUID, when it is one: the SmartLink user id that
    #: this product sends as externalId, comparable in SQL on every database.
    external_uuid: uuid.UUID | None = None
    raw: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
    user_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("users.id", ondelete="SET NULL")),
    )
    refreshed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: For a linked account, the attributes whose value in the target differs
    #: from what SmartLink would send, as found by the last refresh: a list of
    #: `{"path", "expected", "actual"}`. None when nothing differs.
    drift: list[dict[str, Any]] | None = Field(
        default=None, sa_type=JSONColumn(none_as_null=True)
    )
    drifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ScimGroup(SQLModel, table=True):
    """A mirrored SCIM Group of a target, optionally linked to a SmartLink folder."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        UniqueConstraint("application_id", "scim_id"),
        UniqueConstraint("application_id", "folder_id"),
        Index("ix_scim_groups_app_display_name", "application_id", "display_name_key"),
        Index("ix_scim_groups_app_external", "application_id", "external_uuid"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    application_id: uuid.UUID = application_fk()
    scim_id: str
    display_name: str
    display_name_key: str
    external_id: str | None = None
    #: `external_id` read as a UUID, when it is one: the SmartLink folder id
    #: that this product sends as a group's externalId.
    external_uuid: uuid.UUID | None = None
    #: SCIM ids of the member resources, as the target listed them.
    member_ids: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    raw: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
    folder_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("folders.id", ondelete="SET NULL")),
    )
    refreshed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RefreshRun(SQLModel, table=True):
    """One import of a target's users and groups into the mirror."""

    __tablename__ = "refresh_runs"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    application_id: uuid.UUID = application_fk(index=True)
    status: RefreshStatus = RefreshStatus.QUEUED
    accounts_read: int = 0
    groups_read: int = 0
    total_accounts: int | None = None
    total_groups: int | None = None
    #: False when the target's paging could not be trusted, so the run added and
    #: updated resources but removed none from the mirror.
    complete: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = None


class ProvisioningOperation(SQLModel, table=True):
    """One write to a target application, kept as the provisioning log."""

    __tablename__ = "provisioning_operations"
    __table_args__ = (
        Index("ix_operations_app_created", "application_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    application_id: uuid.UUID = application_fk()
    action: str
    status: OperationStatus = OperationStatus.PENDING
    #: Trigger that requested it: `api:<token name>`, or a job and its event.
    trigger: str
    scim_id: str | None = None
    user_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("users.id", ondelete="SET NULL")),
    )
    folder_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("folders.id", ondelete="SET NULL")),
    )
    attempts: int = 0
    #: Set while the operation runs, unique, so a second identical click finds
    #: the first in progress; cleared when it finishes.
    lock_key: str | None = Field(default=None, unique=True)
    target_status: int | None = None
    error: str | None = None
    #: What the operation changed when that is not plain from its action, such
    #: as the number of members a PATCH added, or a 404 taken as already gone.
    detail: str | None = None
    #: True when dry run was on: the request below was recorded, not sent.
    dry_run: bool = False
    #: The withheld request of a dry-run operation: method, path under the
    #: base URL, and JSON body.
    request_method: str | None = None
    request_path: str | None = None
    request_body: dict[str, Any] | None = Field(default=None, sa_type=JSONColumn)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RefreshSchedule(SQLModel, table=True):
    """When an application's mirror was last refreshed and is next due, and the
    lease that keeps two refreshes of it from running at once."""

    __tablename__ = "refresh_schedules"

    application_id: uuid.UUID = application_fk(primary_key=True)
    #: When the last successful refresh finished.
    last_refreshed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: When the scheduler queues the next refresh; None while scheduled
    #: refreshes are off.
    next_refresh_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, index=True
    )
    #: The refresh run that holds the lease, and when the lease lapses unless
    #: that run renews it.
    lease_run_id: uuid.UUID | None = None
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
