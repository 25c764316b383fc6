"""Root query fields listing SmartLink's directory."""

from __future__ import annotations

import strawberry

from api.graphql.core.connection import Connection, page_request
from api.graphql.core.context import Info
from api.graphql.directory.types import Application, Folder, User
from domain import applications, folders, users


@strawberry.type
class DirectoryQueries:
    @strawberry.field(description="Applications by name.")
    async def applications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> Connection[Application]:
        page = await applications.list_applications(
            info.context.session,
            page_request(first, after, last, before),
            search=search,
        )
        return Connection.from_page(page, Application.from_model)

    @strawberry.field(description="Users by email; `search` matches email and names.")
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> Connection[User]:
        page = await users.list_users(
            info.context.session,
            page_request(first, after, last, before),
            search=search,
        )
        return Connection.from_page(page, User.from_model)

    @strawberry.field(description="Folders by name.")
    async def folders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> Connection[Folder]:
        page = await folders.list_folders(
            info.context.session,
            page_request(first, after, last, before),
            search=search,
        )
        return Connection.from_page(page, Folder.from_model)
