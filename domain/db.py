"""Database engines and sessions.

An async engine's pooled connections belong to the event loop that opened them,
and this process runs two loops (the web server's and the job worker's), so each
loop gets its own engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.config import get_settings

T = TypeVar("T")

_engines: dict[tuple[int, str], AsyncEngine] = {}


def create_engine(url: str) -> AsyncEngine:
    """Create an engine for `url`, with SQLite set up for concurrent readers."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def get_engine(url: str | None = None) -> AsyncEngine:
    """Return the engine of the running event loop for `url` (default: settings)."""
    url = url or get_settings().resolved_database_url
    key = (id(asyncio.get_running_loop()), url)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = create_engine(url)
    return engine


async def dispose_engines() -> None:
    """Close the engines that belong to the running event loop."""
    loop_id = id(asyncio.get_running_loop())
    for key in [key for key in _engines if key[0] == loop_id]:
        await _engines.pop(key).dispose()


class SerializedSession(AsyncSession):
    """An `AsyncSession` that runs one database operation at a time, each to its end.

    GraphQL resolves sibling fields concurrently, and a session with its one
    connection raises if two coroutines use it at once, so this session makes
    them take turns. graphql-core also cancels the sibling resolvers
    of a field whose error nulls their parent. A statement cancelled half-way
    invalidates the connection for the rest of the request, so each operation
    runs shielded from its caller's cancellation.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = asyncio.Lock()

    async def _take_turn(self, operation: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            async with self._turn:
                return await operation()

        task = asyncio.ensure_future(run())
        # A cancelled caller no longer awaits the task, so its error is
        # retrieved here rather than reported as never retrieved.
        task.add_done_callback(_retrieve_error)
        return await asyncio.shield(task)

    async def exec(self, *args: Any, **kwargs: Any) -> Any:
        return await self._take_turn(partial(super().exec, *args, **kwargs))

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._take_turn(partial(super().execute, *args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._take_turn(partial(super().get, *args, **kwargs))

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await self._take_turn(partial(super().flush, *args, **kwargs))

    async def commit(self) -> None:
        await self._take_turn(super().commit)

    async def rollback(self) -> None:
        await self._take_turn(super().rollback)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        await self._take_turn(partial(super().refresh, *args, **kwargs))

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        await self._take_turn(partial(super().delete, *args, **kwargs))

    async def close(self) -> None:
        # Waits for an operation whose caller was cancelled to end first.
        await self._take_turn(super().close)


def _retrieve_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def session_factory() -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        get_engine(), class_=SerializedSession, expire_on_commit=False
    )


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """Open a session that commits on success and rolls back on error."""
    async with session_factory()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
