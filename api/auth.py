"""Bearer-token authentication of API requests."""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from domain.tokens import authenticate, touch_token

logger = logging.getLogger(__name__)

#: Paths served without a token: liveness, and the GraphiQL page itself
#: (a browser GET asking for HTML), which sends the token with each query.
PUBLIC_PATHS = {"/healthz"}


def _is_graphiql_page(scope: Scope) -> bool:
    headers = dict(scope.get("headers", []))
    accept = headers.get(b"accept", b"").decode("latin-1")
    return (
        scope["method"] == "GET"
        and scope["path"].rstrip("/") == "/graphql"
        and "text/html" in accept
        and not scope.get("query_string")
    )


class BearerTokenMiddleware:
    """Reject requests without a valid `Authorization: Bearer` API token (401)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if _is_graphiql_page(scope):
            await self.app(scope, receive, send)
            return

        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            await _unauthorized(
                send,
                "Missing API token: send the header 'Authorization: Bearer <token>'. "
                "Create a token with `smartlink create-token NAME`.",
            )
            return

        # The request's own session, opened by `SessionMiddleware` outside this
        # one, so a request checks out one database connection, not two.
        session = scope["state"]["session"]
        token = await authenticate(session, secret.strip())
        if token is not None:
            if await touch_token(session, token):
                await session.commit()
            # Detached, so a mutation's rollback cannot expire the token's
            # attributes, which the request reads after it without awaiting.
            session.expunge(token)
        if token is None:
            logger.info("Rejected a request with an unknown API token.")
            await _unauthorized(
                send,
                "Invalid API token: it is unknown or was revoked. Create a new one "
                "with `smartlink create-token NAME`.",
            )
            return

        scope.setdefault("state", {})["api_token"] = token
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, message: str) -> None:
    body = json.dumps({"errors": [{"message": message}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="smartlink"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
