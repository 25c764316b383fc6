"""GraphQL types of SmartLink's directory: users, folders and applications."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from strawberry import relay

from api.graphql.core.connection import Connection, page_request
from api.graphql.core.context import Info
from api.graphql.core.nodes import load_models
from domain import applications as application_domain
from domain import folders as folder_domain
from domain import models
from domain import users as user_domain

if TYPE_CHECKING:
    from api.graphql.provisioning.types import Provisioning


@strawberry.type(description="A SmartLink membership: one person of the company.")
class User(relay.Node):
    id: relay.NodeID[str]
    email: str
    given_name: str | None
    family_name: str | None
    display_name: str
    title: str | None
    department: str | None
    phone_number: str | None
    preferred_language: str | None = strawberry.field(
        description="A BCP 47 language tag, such as en-GB."
    )
    employee_number: str | None
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, user: models.User) -> Self:
        return cls(
            id=str(user.id),
            email=user.email,
            given_name=user.given_name,
            family_name=user.family_name,
            display_name=user.display_name,
            title=user.title,
            department=user.department,
            phone_number=user.phone_number,
            preferred_language=user.preferred_language,
            employee_number=user.employee_number,
            active=user.active,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.User, node_ids)
        return [cls.from_model(row) if row else None for row in rows]

    @strawberry.field(description="Folders the user belongs to.")
    async def folders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Folder]:
        page = await folder_domain.list_folders(
            info.context.session,
            page_request(first, after, last, before),
            user_id=uuid.UUID(self.id),
        )
        return Connection.from_page(page, Folder.from_model)

    @strawberry.field(
        description="Applications the user has access to, directly or by folder."
    )
    async def applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Application]:
        page = await application_domain.list_applications(
            info.context.session,
            page_request(first, after, last, before),
            user_id=uuid.UUID(self.id),
        )
        return Connection.from_page(page, Application.from_model)


@strawberry.type(description="A named set of users and of applications they reach.")
class Folder(relay.Node):
    id: relay.NodeID[str]
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, folder: models.Folder) -> Self:
        return cls(id=str(folder.id), name=folder.name, created_at=folder.created_at)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.Folder, node_ids)
        return [cls.from_model(row) if row else None for row in rows]

    @strawberry.field(description="Members of the folder, by email.")
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[User]:
        page = await user_domain.list_users(
            info.context.session,
            page_request(first, after, last, before),
            folder_id=uuid.UUID(self.id),
        )
        return Connection.from_page(page, User.from_model)

    @strawberry.field(description="Applications the folder's members reach.")
    async def applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Application]:
        page = await application_domain.list_applications(
            info.context.session,
            page_request(first, after, last, before),
            folder_id=uuid.UUID(self.id),
        )
        return Connection.from_page(page, Application.from_model)


@strawberry.type(description="A third-party application SmartLink gives access to.")
class Application(relay.Node):
    id: relay.NodeID[str]
    name: str
    created_at: datetime

    @classmethod
    def from_model(cls, application: models.Application) -> Self:
        return cls(
            id=str(application.id),
            name=application.name,
            created_at=application.created_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rows = await load_models(info, models.Application, node_ids)
        return [cls.from_model(row) if row else None for row in rows]

    @strawberry.field(description="The application's Provisioning page.")
    def provisioning(
        self,
    ) -> Annotated[Provisioning, strawberry.lazy("api.graphql.provisioning.types")]:
        from api.graphql.provisioning.types import Provisioning

        return Provisioning(application_id=uuid.UUID(self.id))
