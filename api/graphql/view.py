"""The GraphQL endpoint: Strawberry's ASGI view with a database session per request."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET

from api.graphql.core.context import Context
from api.graphql.schema import schema
from domain.config import get_settings
from domain.db import session_factory
from domain.models import ApiToken, TokenRole

logger = logging.getLogger(__name__)


class GraphQLView(GraphQL[Context, None]):
    """Serves `/graphql`; the session opened for a request closes with it."""

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        # Strawberry builds the context before it decides to render GraphiQL,
        # but the page is public, so its request may carry no API token.
        if (
            isinstance(request, Request)
            and self.graphql_ide
            and self.should_render_graphql_ide(self.request_adapter_class(request))
        ):
            return await self.render_graphql_ide(request)
        try:
            return await super().run(request, context, root_value)
        except RecursionError:
            # json.loads of a body nested thousands of levels deep.
            logger.info("Rejected a request body nested too deeply to parse.")
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "The request body nests arrays or objects "
                            "too deeply to parse; send flatter variables.",
                            "extensions": {"code": "INVALID"},
                        }
                    ]
                },
                status_code=400,
            )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        token = getattr(request.state, "api_token", None)
        if token is None:
            # Only the GraphiQL page gets here without a token (see api.auth).
            # Strawberry builds a context before it serves that page, which
            # runs no operation.
            token = ApiToken(name="graphiql-page", token_hash="", role=TokenRole.VIEWER)
        return Context(session=request.state.session, token=token)


def create_graphql_view() -> GraphQLView:
    """Build the endpoint with the current settings.

    Queries over GET are refused, so that no link followed by a browser can
    start a request that reaches the SCIM targets.
    """
    return GraphQLView(
        schema,
        graphql_ide="graphiql" if get_settings().graphiql else None,
        allow_queries_via_get=False,
    )


class SessionMiddleware:
    """Open a database session for each request and close it afterwards."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with session_factory()() as session:
            scope.setdefault("state", {})["session"] = session
            await self.app(scope, receive, send)
