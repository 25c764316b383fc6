"""`smartlink serve` and `smartlink worker` as processes, as a deployment runs them.

The processes share the suite's database on PostgreSQL, and get a fresh
SQLite file of their own otherwise.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.db import create_engine
from domain.models import OutboxEvent
from domain.tokens import create_token
from tests.support.graphql import GraphQLClient
from tests.support.processes import Service, run_smartlink, smartlink_env
from tests.support.scim2_server import free_port

#: Default worker arguments: one process, so a SIGKILL of the leader's group
#: kills every thread that runs a job.
WORKER_ARGS = ["worker", "--processes", "1", "--threads", "2"]


@dataclass
class Deployment:
    """A running `smartlink serve`, with its worker when jobs go through Redis."""

    env: dict[str, str]
    base_url: str
    services: list[Service]
    directory: Path
    add_finalizer: Callable[[Callable[[], object]], None]

    def create_token(self, name: str) -> str:
        result = run_smartlink("create-token", name, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1]

    def output(self) -> str:
        """Everything the processes printed so far, stdout and stderr."""
        return "\n".join(service.output() for service in self.services)

    @property
    def worker(self) -> Service:
        workers = [s for s in self.services if s.name == "smartlink worker"]
        assert workers, "This deployment has no worker: it runs without Redis."
        return workers[-1]

    def kill_worker(self) -> None:
        """Kill the worker and the processes it forked with SIGKILL, mid-job."""
        worker = self.worker
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)

    def start_worker(self, *args: str) -> Service:
        """Start a new worker process, logging to a file of its own.

        `args` replace the default `WORKER_ARGS`, such as to run more threads.
        """
        number = sum(1 for s in self.services if s.name == "smartlink worker")
        worker = Service.start(
            "smartlink worker",
            list(args) or WORKER_ARGS,
            self.env,
            self.directory / f"worker-{number}.log",
        )
        self.add_finalizer(worker.stop)
        self.services.append(worker)
        return worker

    @property
    def database_url(self) -> str:
        """The database the processes use, as `smartlink` resolves it."""
        configured = self.env.get("SMARTLINK_DATABASE_URL")
        if configured:
            return configured
        data_dir = Path(self.env["SMARTLINK_DATA_DIR"]).resolve()
        return f"sqlite+aiosqlite:///{data_dir / 'smartlink.db'}"

    async def insert_token(self, name: str) -> str:
        """Create an admin token in the deployment's database, in this process.

        Faster than `create_token`, which starts the `smartlink` command.
        """
        engine = create_engine(self.database_url)
        try:
            async with AsyncSession(engine) as session:
                _token, secret = await create_token(session, name)
                await session.commit()
        finally:
            await engine.dispose()
        return secret

    async def event_statuses(self) -> dict[str, int]:
        """Count the outbox events by status, read from the deployment's database."""
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                status = OutboxEvent.__table__.c.status  # type: ignore[attr-defined]
                statement = select(status, func.count()).group_by(status)
                rows = await connection.execute(statement)
                return {value.value: count for value, count in rows}
        finally:
            await engine.dispose()


def deployment_env(data_dir: Path, **settings: str) -> dict[str, str]:
    database_url = os.environ.get("SMARTLINK_DATABASE_URL")
    if database_url:
        settings["SMARTLINK_DATABASE_URL"] = database_url
    return smartlink_env(
        data_dir,
        SMARTLINK_OUTBOUND_ALLOW="127.0.0.1",
        # DEBUG logs the most, so a secret in any log line shows up.
        SMARTLINK_LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
        # Tests make a refresh due by moving its time, then wait for this poll.
        SMARTLINK_SCHEDULER_POLL="0.2",
        **settings,
    )


def deploy(
    directory: Path,
    add_finalizer: Callable[[Callable[[], object]], None],
    worker_args: tuple[str, ...] = (),
    **settings: str,
) -> Deployment:
    """Start `smartlink serve`, and `smartlink worker` with `worker_args` when
    `settings` set SMARTLINK_REDIS_URL."""
    env = deployment_env(directory / "data", **settings)
    port = free_port()
    server = Service.start(
        "smartlink serve", ["serve", "--port", str(port)], env, directory / "serve.log"
    )
    add_finalizer(server.stop)
    deployment = Deployment(
        env=env,
        base_url=f"http://127.0.0.1:{port}",
        services=[server],
        directory=directory,
        add_finalizer=add_finalizer,
    )
    if "SMARTLINK_REDIS_URL" in settings:
        deployment.start_worker(*worker_args)

    server.wait_for_http(f"{deployment.base_url}/healthz")
    for service in deployment.services:
        service.check_running()
    return deployment


@dataclass
class Client:
    """The API of a deployment, called with a token of its own, as a script would."""

    api: GraphQLClient
    token_name: str
    token: str


async def deployment_client(
    deployment: Deployment, *, insert_token: bool = False
) -> AsyncIterator[Client]:
    """Yield a client of the deployment's API, with a new admin token.

    The token comes from `smartlink create-token`, or from `insert_token`
    when `insert_token` is set.
    """
    name = f"script-{uuid.uuid4().hex[:8]}"
    if insert_token:
        token = await deployment.insert_token(name)
    else:
        token = deployment.create_token(name)
    async with httpx.AsyncClient(
        base_url=deployment.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as http:
        yield Client(api=GraphQLClient(http), token_name=name, token=token)
