"""Tables of the SmartLink provisioning database."""

from domain.models.audit import AuditEntry
from domain.models.automation import (
    DeprovisionAction,
    EventStatus,
    OutboxEvent,
    ProvisioningEvent,
    ProvisioningMode,
    ProvisioningSettings,
    Ticket,
    TicketAction,
    TicketStatus,
)
from domain.models.directory import (
    AccessGrant,
    Application,
    Folder,
    FolderApplication,
    FolderUser,
    User,
)
from domain.models.mapping import AttributeMapping
from domain.models.provisioning import (
    ConnectionStatus,
    OperationStatus,
    ProvisioningOperation,
    RefreshRun,
    RefreshSchedule,
    RefreshStatus,
    ScimAccount,
    ScimConnection,
    ScimGroup,
)
from domain.models.tokens import ApiToken, TokenRole

__all__ = [
    "DeprovisionAction",
    "EventStatus",
    "OutboxEvent",
    "ProvisioningEvent",
    "ProvisioningMode",
    "ProvisioningSettings",
    "Ticket",
    "TicketAction",
    "TicketStatus",
    "AccessGrant",
    "AttributeMapping",
    "ApiToken",
    "Application",
    "AuditEntry",
    "ConnectionStatus",
    "Folder",
    "FolderApplication",
    "FolderUser",
    "OperationStatus",
    "ProvisioningOperation",
    "RefreshRun",
    "RefreshSchedule",
    "RefreshStatus",
    "ScimAccount",
    "ScimConnection",
    "ScimGroup",
    "TokenRole",
    "User",
]
