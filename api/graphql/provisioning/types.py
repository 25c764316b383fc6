"""GraphQL types of an application's Provisioning page."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Self, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.graphql.automation.types import ProvisioningSettings
from api.graphql.core.connection import Connection, page_request
from api.graphql.core.context import Info
from api.graphql.core.ids import with_global_ids
from api.graphql.core.nodes import load_models
from api.graphql.core.permissions import require_admin
from api.graphql.directory.types import Folder, User
from api.graphql.mapping.types import AttributeMappings, ResourceMapping, ScimAttribute
from domain import models
from domain.automation.settings import get_provisioning_settings
from domain.folders import folders_by_ids
from domain.mapping.entries import MappingKind
from domain.mapping.store import connection_schema, get_mappings
from domain.mapping.validate import mapping_problems
from domain.models import ConnectionStatus, OperationStatus, RefreshStatus
from domain.provisioning import accounts as account_domain
from domain.provisioning import groups as group_domain
from domain.provisioning import operations as operation_domain
from domain.provisioning.access_tab import AccessEntry as AccessEntryModel
from domain.provisioning.access_tab import list_access
from domain.provisioning.capabilities import connection_capabilities
from domain.provisioning.connection import get_connection
from domain.provisioning.folders_tab import FolderEntry as FolderEntryModel
from domain.provisioning.folders_tab import list_folder_entries
from domain.provisioning.matching import suggest_users
from domain.provisioning.refresh import latest_refresh
from domain.provisioning.schedule import find_schedule
from domain.scim import capabilities as scim_capabilities
from domain.users import users_by_ids

READ_RAW = "read raw SCIM JSON (`raw` fields)"
READ_SCHEMA = "read the target's schema documents (`schema`)"
READ_REQUEST = "read the body of a withheld SCIM request (`request.body`)"

ConnectionStatusEnum = strawberry.enum(ConnectionStatus, name="ConnectionStatus")
RefreshStatusEnum = strawberry.enum(RefreshStatus, name="RefreshStatus")
OperationStatusEnum = strawberry.enum(
    OperationStatus,
    name="OperationStatus",
    description="The state of a write to the target. SUCCEEDED and FAILED follow "
    "the target's response, and WITHHELD marks a request that dry run recorded "
    "and never sent.",
)
CapabilitySource = strawberry.enum(
    scim_capabilities.Source,
    name="CapabilitySource",
    description="Where a capability comes from: the target's "
    "ServiceProviderConfig, a conservative default, an admin's override, or what "
    "the target accepted after rejecting the other update method.",
)


@strawberry.type(description="The SCIM endpoint an application is connected to.")
class ScimConnection:
    base_url: str
    token_configured: bool = strawberry.field(
        description="Whether a token is saved; the token itself is never returned."
    )
    last_checked_at: datetime | None
    last_error: str | None

    @classmethod
    def from_model(cls, connection: models.ScimConnection) -> Self:
        return cls(
            base_url=connection.base_url,
            token_configured=connection.token_ciphertext is not None,
            last_checked_at=connection.last_checked_at,
            last_error=with_global_ids(
                connection.last_error, {connection.application_id: "Application"}
            )
            if connection.last_error is not None
            else None,
        )


@strawberry.type(description="One import of the target's accounts and groups.")
class RefreshRun(relay.Node):
    id: relay.NodeID[str]
    status: RefreshStatusEnum  # type: ignore[valid-type]
    accounts_read: int
    groups_read: int
    total_accounts: int | None
    total_groups: int | None
    complete: bool = strawberry.field(
        description="False when the target's paging could not be trusted, so "
        "nothing was removed from the mirror."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def from_model(cls, run: models.RefreshRun) -> Self:
        return cls(
            id=str(run.id),
            status=run.status,
            accounts_read=run.accounts_read,
            groups_read=run.groups_read,
            total_accounts=run.total_accounts,
            total_groups=run.total_groups,
            complete=run.complete,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=with_global_ids(run.error, {run.application_id: "Application"})
            if run.error is not None
            else None,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.RefreshRun, node_ids)
        return [cls.from_model(row) if row else None for row in rows]


@strawberry.type(
    description="An attribute whose value in the target differs from SmartLink's."
)
class AttributeDrift:
    path: str = strawberry.field(description="The SCIM attribute path.")
    expected: JSON | None = strawberry.field(
        description="The value SmartLink would send; null when SmartLink's value "
        "is empty, so an update removes the attribute."
    )
    actual: JSON | None = strawberry.field(
        description="The value the target held at the last refresh."
    )


@strawberry.type(description="An account (SCIM User) in the target application.")
class ScimAccount(relay.Node):
    id: relay.NodeID[str]
    scim_id: str
    user_name: str
    display_name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    active: bool | None
    external_id: str | None
    user: User | None = strawberry.field(
        description="The SmartLink user linked to the account, if any."
    )
    suggested_user: User | None = strawberry.field(
        default=None,
        description="For an unlinked account, a user with no account in the app "
        "whose id is its externalId, or whose email is its userName or email; "
        "link them with associateMembership.",
    )
    drift: list[AttributeDrift] = strawberry.field(
        description="For a linked account, the attributes that differ from "
        "SmartLink's values at the last refresh; empty when none do. The "
        "Settings tab's metadata update mode settles them."
    )
    drifted_at: datetime | None = strawberry.field(
        description="When the last refresh found the drift."
    )
    raw_json: strawberry.Private[dict[str, Any]]
    refreshed_at: datetime

    @strawberry.field(
        description="The resource as the target returned it; admin tokens only."
    )
    def raw(self, info: Info) -> JSON:
        require_admin(info, READ_RAW)
        return cast(JSON, self.raw_json)

    @classmethod
    def from_model(
        cls,
        account: models.ScimAccount,
        user: User | None,
        suggested_user: User | None = None,
    ) -> Self:
        return cls(
            id=str(account.id),
            scim_id=account.scim_id,
            user_name=account.user_name,
            display_name=account.display_name,
            given_name=account.given_name,
            family_name=account.family_name,
            email=account.email,
            active=account.active,
            external_id=account.external_id,
            user=user,
            suggested_user=suggested_user,
            drift=[
                AttributeDrift(
                    path=item["path"],
                    expected=item.get("expected"),
                    actual=item.get("actual"),
                )
                for item in account.drift or []
            ],
            drifted_at=account.drifted_at,
            raw_json=account.raw,
            refreshed_at=account.refreshed_at,
        )

    @classmethod
    async def from_models(
        cls, info: Info, accounts: Sequence[models.ScimAccount]
    ) -> list[Self]:
        """Convert accounts, loading linked and suggested users in two queries."""
        session = info.context.session
        linked = [a.user_id for a in accounts if a.user_id is not None]
        users = await users_by_ids(session, linked)
        suggestions: dict[uuid.UUID, models.User] = {}
        for application_id in {a.application_id for a in accounts}:
            same_app = [a for a in accounts if a.application_id == application_id]
            suggestions.update(await suggest_users(session, application_id, same_app))
        return [
            cls.from_model(
                account,
                User.from_model(users[account.user_id]) if account.user_id else None,
                _user_or_none(suggestions.get(account.id)),
            )
            for account in accounts
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.ScimAccount, node_ids)
        converted = iter(await cls.from_models(info, [r for r in rows if r]))
        return [next(converted) if row else None for row in rows]


@strawberry.type(description="A SmartLink user with access, and its account if any.")
class AccessEntry:
    user: User
    present_in_app: bool
    account: ScimAccount | None


@strawberry.type(description="A group (SCIM Group) in the target application.")
class ScimGroup(relay.Node):
    id: relay.NodeID[str]
    scim_id: str
    display_name: str
    external_id: str | None
    member_count: int
    folder: Folder | None = strawberry.field(
        description="The SmartLink folder linked to the group, if any."
    )
    raw_json: strawberry.Private[dict[str, Any]]
    refreshed_at: datetime

    @strawberry.field(
        description="The resource as the target returned it; admin tokens only."
    )
    def raw(self, info: Info) -> JSON:
        require_admin(info, READ_RAW)
        return cast(JSON, self.raw_json)

    @classmethod
    def from_model(cls, group: models.ScimGroup, folder: Folder | None) -> Self:
        return cls(
            id=str(group.id),
            scim_id=group.scim_id,
            display_name=group.display_name,
            external_id=group.external_id,
            member_count=len(group.member_ids),
            folder=folder,
            raw_json=group.raw,
            refreshed_at=group.refreshed_at,
        )

    @classmethod
    async def from_models(
        cls, info: Info, groups: Sequence[models.ScimGroup]
    ) -> list[Self]:
        linked = [g.folder_id for g in groups if g.folder_id is not None]
        folders = await folders_by_ids(info.context.session, linked)
        return [
            cls.from_model(
                group,
                Folder.from_model(folders[group.folder_id])
                if group.folder_id
                else None,
            )
            for group in groups
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.ScimGroup, node_ids)
        converted = iter(await cls.from_models(info, [r for r in rows if r]))
        return [next(converted) if row else None for row in rows]


@strawberry.type(description="A folder holding the application, and its group.")
class FolderEntry:
    folder: Folder
    present_in_app: bool = strawberry.field(
        description="Whether the target has a group for the folder: the linked "
        "one, or an unlinked one whose externalId is the folder's id or whose "
        "displayName is the folder's name."
    )
    group: ScimGroup | None = strawberry.field(
        description="That group; its `folder` is null while it is not linked."
    )


@strawberry.type(description="The discovery documents the target published.")
class ScimSchema:
    service_provider_config: JSON
    resource_types: JSON
    schemas: JSON
    user_attributes: list[ScimAttribute] = strawberry.field(
        description="The attributes a user mapping may name, extensions included."
    )
    group_attributes: list[ScimAttribute] = strawberry.field(
        description="The attributes a group mapping may name."
    )
    notice: str | None = strawberry.field(
        description="Set when the attributes come from RFC 7643 because the "
        "target published no schema, or not all, or when its ResourceTypes "
        "do not list the extensions users and groups take."
    )


@strawberry.type(description="Whether the target supports a feature.")
class ScimFeature:
    supported: bool
    source: CapabilitySource  # type: ignore[valid-type]

    @classmethod
    def from_domain(cls, feature: scim_capabilities.Feature) -> Self:
        return cls(supported=feature.supported, source=feature.source)


@strawberry.type(description="A limit the target sets; null when none is known.")
class ScimLimit:
    value: int | None
    source: CapabilitySource  # type: ignore[valid-type]

    @classmethod
    def from_domain(cls, limit: scim_capabilities.Limit) -> Self:
        return cls(value=limit.value, source=limit.source)


@strawberry.type(description="What SmartLink assumes the target supports.")
class ScimCapabilities:
    patch: ScimFeature = strawberry.field(
        description="PATCH for updates; without it, updates GET and PUT the whole "
        "resource."
    )
    filter: ScimFeature = strawberry.field(
        description="Filtered lookups; without them, lookups read every resource."
    )
    bulk: ScimFeature
    etag: ScimFeature
    max_results: ScimLimit = strawberry.field(
        description="filter.maxResults, which also caps the page size of listings."
    )
    max_operations: ScimLimit = strawberry.field(description="bulk.maxOperations.")
    problems: list[str] = strawberry.field(
        description="Missing or malformed parts of the target's "
        "ServiceProviderConfig, and what was assumed instead."
    )

    @classmethod
    def from_domain(cls, capabilities: scim_capabilities.Capabilities) -> Self:
        return cls(
            patch=ScimFeature.from_domain(capabilities.patch),
            filter=ScimFeature.from_domain(capabilities.filter),
            bulk=ScimFeature.from_domain(capabilities.bulk),
            etag=ScimFeature.from_domain(capabilities.etag),
            max_results=ScimLimit.from_domain(capabilities.max_results),
            max_operations=ScimLimit.from_domain(capabilities.max_operations),
            problems=list(capabilities.problems),
        )


@strawberry.type(description="A SCIM request, as a dry run recorded it unsent.")
class ScimRequest:
    method: str
    path: str = strawberry.field(description="The path under the SCIM base URL.")
    body_json: strawberry.Private[dict[str, Any] | None]

    @strawberry.field(description="The JSON body, if any; admin tokens only.")
    def body(self, info: Info) -> JSON | None:
        require_admin(info, READ_REQUEST)
        return cast(JSON, self.body_json)


@strawberry.type(description="One write to the target application, as logged.")
class ProvisioningOperation(relay.Node):
    id: relay.NodeID[str]
    action: str
    status: OperationStatusEnum  # type: ignore[valid-type]
    trigger: str = strawberry.field(description="Who or what asked for the write.")
    scim_id: str | None = strawberry.field(
        description="The id of the account or group in the target, once known."
    )
    user: User | None
    folder: Folder | None
    attempts: int = strawberry.field(
        description="Times the write was tried; 0 for a link made in SmartLink only."
    )
    target_status: int | None = strawberry.field(
        description="The HTTP status the target returned, if it responded."
    )
    error: str | None
    detail: str | None = strawberry.field(
        description="What the write changed when the action does not say, such as "
        "the members a PATCH added, or a 404 taken as already deleted."
    )
    dry_run: bool = strawberry.field(
        description="True when dry run was on: the request was recorded and not "
        "sent, so the status is WITHHELD and targetStatus is null."
    )
    request: ScimRequest | None = strawberry.field(
        description="The request a dry-run operation withheld; null otherwise."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_model(
        cls,
        operation: models.ProvisioningOperation,
        user: User | None,
        folder: Folder | None = None,
    ) -> Self:
        return cls(
            id=str(operation.id),
            action=operation.action,
            status=operation.status,
            trigger=operation.trigger,
            scim_id=operation.scim_id,
            user=user,
            folder=folder,
            attempts=operation.attempts,
            target_status=operation.target_status,
            error=with_global_ids(
                operation.error,
                {
                    operation.application_id: "Application",
                    operation.user_id: "User",
                    operation.folder_id: "Folder",
                },
            )
            if operation.error is not None
            else None,
            detail=operation.detail,
            dry_run=operation.dry_run,
            request=_withheld_request(operation),
            created_at=operation.created_at,
            started_at=operation.started_at,
            finished_at=operation.finished_at,
        )

    @classmethod
    async def from_models(
        cls, info: Info, operations: Sequence[models.ProvisioningOperation]
    ) -> list[Self]:
        """Convert operations, loading their users and folders in two queries."""
        session = info.context.session
        users = await users_by_ids(
            session, [o.user_id for o in operations if o.user_id is not None]
        )
        folders = await folders_by_ids(
            session, [o.folder_id for o in operations if o.folder_id is not None]
        )
        return [
            cls.from_model(
                o,
                _user_or_none(users.get(o.user_id) if o.user_id else None),
                _folder_or_none(folders.get(o.folder_id) if o.folder_id else None),
            )
            for o in operations
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.ProvisioningOperation, node_ids)
        converted = iter(await cls.from_models(info, [r for r in rows if r]))
        return [next(converted) if row else None for row in rows]


@strawberry.type(description="An application's Provisioning page, one field per tab.")
class Provisioning:
    application_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whether the SCIM connection works.")
    async def status(self, info: Info) -> ConnectionStatusEnum:  # type: ignore[valid-type]
        connection = await get_connection(info.context.session, self.application_id)
        return connection.status if connection else ConnectionStatus.NOT_CONFIGURED

    @strawberry.field(description="The Configuration tab; null until configured.")
    async def connection(self, info: Info) -> ScimConnection | None:
        connection = await get_connection(info.context.session, self.application_id)
        return ScimConnection.from_model(connection) if connection else None

    @strawberry.field(
        description="What the target supports, with overrides; null until connected."
    )
    async def capabilities(self, info: Info) -> ScimCapabilities | None:
        connection = await get_connection(info.context.session, self.application_id)
        if connection is None or not _discovered(connection):
            return None
        return ScimCapabilities.from_domain(connection_capabilities(connection))

    @strawberry.field(description="The latest import of the target's data.")
    async def last_refresh(self, info: Info) -> RefreshRun | None:
        run = await latest_refresh(info.context.session, self.application_id)
        return RefreshRun.from_model(run) if run else None

    @strawberry.field(description="When the last successful refresh finished.")
    async def last_refreshed_at(self, info: Info) -> datetime | None:
        schedule = await find_schedule(info.context.session, self.application_id)
        return schedule.last_refreshed_at if schedule else None

    @strawberry.field(
        description="When the scheduler queues the next refresh; null while "
        "scheduled refreshes are off or before the first refresh ends."
    )
    async def next_refresh_at(self, info: Info) -> datetime | None:
        schedule = await find_schedule(info.context.session, self.application_id)
        return schedule.next_refresh_at if schedule else None

    @strawberry.field(description="The Accounts tab: the target's accounts.")
    async def accounts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
        linked: bool | None = None,
        suggested: Annotated[
            bool | None,
            strawberry.argument(
                description="True lists only the unlinked accounts with a "
                "suggested user; false lists the other accounts."
            ),
        ] = None,
        drifted: Annotated[
            bool | None,
            strawberry.argument(
                description="True lists only the accounts that drifted from "
                "SmartLink's values at the last refresh; false lists the others."
            ),
        ] = None,
    ) -> Connection[ScimAccount]:
        page = await account_domain.list_accounts(
            info.context.session,
            self.application_id,
            page_request(first, after, last, before),
            search=search,
            linked=linked,
            suggested=suggested,
            drifted=drifted,
        )
        nodes = iter(await ScimAccount.from_models(info, page.items))
        return Connection.from_page(page, lambda _: next(nodes))

    @strawberry.field(description="The Access tab: users with access to the app.")
    async def access(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
        present: bool | None = None,
    ) -> Connection[AccessEntry]:
        page = await list_access(
            info.context.session,
            self.application_id,
            page_request(first, after, last, before),
            search=search,
            present=present,
        )
        return Connection.from_page(page, _access_entry)

    @strawberry.field(description="The Groups tab: the target's groups.")
    async def groups(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
        linked: bool | None = None,
    ) -> Connection[ScimGroup]:
        page = await group_domain.list_groups(
            info.context.session,
            self.application_id,
            page_request(first, after, last, before),
            search=search,
            linked=linked,
        )
        nodes = iter(await ScimGroup.from_models(info, page.items))
        return Connection.from_page(page, lambda _: next(nodes))

    @strawberry.field(
        description="The Folders tab: folders holding the app, with their groups."
    )
    async def folders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
        present: bool | None = None,
    ) -> Connection[FolderEntry]:
        page = await list_folder_entries(
            info.context.session,
            self.application_id,
            page_request(first, after, last, before),
            search=search,
            present=present,
        )
        return Connection.from_page(page, _folder_entry)

    @strawberry.field(
        description="The Schema tab; null until connected. Admin tokens only."
    )
    async def schema(self, info: Info) -> ScimSchema | None:
        require_admin(info, READ_SCHEMA)
        connection = await get_connection(info.context.session, self.application_id)
        if connection is None or not _discovered(connection):
            return None
        checked = connection_schema(connection)
        return ScimSchema(
            # A target may publish no ServiceProviderConfig at all.
            service_provider_config=JSON(connection.service_provider_config or {}),
            resource_types=JSON(connection.resource_types or []),
            schemas=JSON(connection.schemas or []),
            user_attributes=[
                ScimAttribute.from_domain(a)
                for a in checked.listed_attributes(MappingKind.USER)
            ],
            group_attributes=[
                ScimAttribute.from_domain(a)
                for a in checked.listed_attributes(MappingKind.GROUP)
            ],
            notice=checked.notice,
        )

    @strawberry.field(
        description="The user and group mappings, checked against the target's "
        "schema; the defaults until updateAttributeMapping saves one."
    )
    async def mapping(self, info: Info) -> AttributeMappings:
        session = info.context.session
        connection = await get_connection(session, self.application_id)
        checked = connection_schema(connection)
        mappings = await get_mappings(session, self.application_id)
        user = mappings[MappingKind.USER]
        group = mappings[MappingKind.GROUP]
        user_problems = mapping_problems(user, checked)
        group_problems = mapping_problems(group, checked)
        user_view = ResourceMapping.from_domain(user, user_problems)
        group_view = ResourceMapping.from_domain(group, group_problems)
        return AttributeMappings(
            user=user_view,
            group=group_view,
            problems=user_view.problems + group_view.problems,
            notice=checked.notice,
        )

    @strawberry.field(description="The Settings tab.")
    async def settings(self, info: Info) -> ProvisioningSettings:
        settings = await get_provisioning_settings(
            info.context.session, self.application_id
        )
        return ProvisioningSettings.from_model(settings)

    @strawberry.field(description="Writes to the target, newest first.")
    async def operations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        status: OperationStatusEnum | None = None,  # type: ignore[valid-type]
        dry_run: Annotated[
            bool | None,
            strawberry.argument(
                description="True lists only the dry-run operations; false lists "
                "the others."
            ),
        ] = None,
    ) -> Connection[ProvisioningOperation]:
        page = await operation_domain.list_operations(
            info.context.session,
            self.application_id,
            page_request(first, after, last, before),
            status=status,
            dry_run=dry_run,
        )
        nodes = iter(await ProvisioningOperation.from_models(info, page.items))
        return Connection.from_page(page, lambda _: next(nodes))


def _discovered(connection: models.ScimConnection) -> bool:
    """Return whether the target's discovery documents were read.

    A connected target may have no ServiceProviderConfig, so the status shows which.
    """
    return (
        connection.service_provider_config is not None
        or connection.status == ConnectionStatus.CONNECTED
    )


def _access_entry(entry: AccessEntryModel) -> AccessEntry:
    account = None
    user = User.from_model(entry.user)
    if entry.account is not None:
        # The matched account belongs to this user, by link or by match.
        linked = user if entry.account.user_id == entry.user.id else None
        account = ScimAccount.from_model(entry.account, linked)
    return AccessEntry(user=user, present_in_app=entry.present_in_app, account=account)


def _folder_entry(entry: FolderEntryModel) -> FolderEntry:
    group = None
    folder = Folder.from_model(entry.folder)
    if entry.group is not None:
        # The matched group belongs to this folder, by link or by match.
        linked = folder if entry.group.folder_id == entry.folder.id else None
        group = ScimGroup.from_model(entry.group, linked)
    return FolderEntry(folder=folder, present_in_app=entry.present_in_app, group=group)


def _withheld_request(operation: models.ProvisioningOperation) -> ScimRequest | None:
    if not operation.dry_run or operation.request_method is None:
        return None
    return ScimRequest(
        method=operation.request_method,
        path=operation.request_path or "",
        body_json=operation.request_body,
    )


def _user_or_none(user: models.User | None) -> User | None:
    return User.from_model(user) if user is not None else None


def _folder_or_none(folder: models.Folder | None) -> Folder | None:
    return Folder.from_model(folder) if folder is not None else None
