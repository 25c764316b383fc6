"""The ASGI application: `/graphql` (with GraphiQL) and `/healthz`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth import BearerTokenMiddleware
from api.graphql.view import SessionMiddleware, create_graphql_view
from api.request_limits import BodySizeLimitMiddleware
from domain.config import get_settings
from domain.db import dispose_engines
from domain.secrets import encryption_keys
from jobs import relay
from jobs.scheduler import Scheduler

logger = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(*, run_worker: bool = True) -> Starlette:
    """Build the app; with `run_worker`, an in-process worker runs jobs when no
    Redis broker is configured."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from jobs.broker import uses_redis
        from jobs.refresh import requeue_pending_refreshes

        # A malformed key fails the start, not the first SCIM request.
        encryption_keys()
        worker = None
        if run_worker and not uses_redis():
            from jobs.inprocess import start_worker

            worker = start_worker()
        requeued = await requeue_pending_refreshes()
        if requeued:
            logger.info("Queued again %d refreshes left pending.", requeued)
        relay.current = relay.Relay()
        relay.current.start()
        scheduler = Scheduler()
        scheduler.start()
        yield
        await scheduler.stop()
        await relay.current.stop()
        relay.current = None
        if worker is not None:
            from jobs.inprocess import stop_worker

            stop_worker(worker)
        await dispose_engines()

    graphql = create_graphql_view()
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        # The session middleware comes first, because authentication reads
        # the token in the request's session.
        middleware=[
            Middleware(
                BodySizeLimitMiddleware, max_bytes=get_settings().max_request_bytes
            ),
            Middleware(SessionMiddleware),
            Middleware(BearerTokenMiddleware),
        ],
        lifespan=lifespan,
    )
