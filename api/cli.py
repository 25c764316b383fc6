"""The `smartlink` command-line interface."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

import click

from domain import secrets, tokens
from domain.audit import changed, record_audit
from domain.config import get_settings
from domain.db import dispose_engines, session_scope
from domain.errors import DomainError
from domain.migrate import upgrade_database
from domain.models import TokenRole

T = TypeVar("T")


def _configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("SMARTLINK_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group()
def main() -> None:
    """SmartLink Provisioning: keep applications' accounts in step over SCIM."""
    _configure_logging()


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
)
@click.option("--port", default=8000, show_default=True, help="TCP port to listen on.")
def serve(host: str, port: int) -> None:
    """Apply migrations, then serve GraphQL at /graphql and liveness at /healthz."""
    import uvicorn

    from api.app import create_app

    upgrade_database()
    uvicorn.run(create_app(), host=host, port=port, log_config=None)


@main.command()
@click.option("--processes", default=2, show_default=True, help="Worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per process.")
@click.option(
    "--idle-poll",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Maximum wait, in milliseconds, between two reads of an empty queue.",
)
def worker(processes: int, threads: int, idle_poll: int) -> None:
    """Run Dramatiq workers that take jobs from Redis (needs SMARTLINK_REDIS_URL)."""
    if not get_settings().redis_url:
        raise click.UsageError(
            "SMARTLINK_REDIS_URL is not set, so there is no queue to work from; set "
            "it to the Redis URL that `smartlink serve` uses, such as "
            "redis://127.0.0.1:6379/0."
        )
    dramatiq = shutil.which("dramatiq") or os.path.join(
        os.path.dirname(sys.executable), "dramatiq"
    )
    # Dramatiq 2.x reads this only from the environment. Its default of 1000 ms
    # lets a job wait up to a second in an idle worker's queue.
    os.environ["dramatiq_worker_timeout"] = str(idle_poll)  # noqa: SIM112
    args = [
        dramatiq,
        "jobs.actors",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    os.execv(dramatiq, args)


@main.command()
def migrate() -> None:
    """Bring the database schema to the newest version."""
    upgrade_database()
    click.echo("Database is up to date.")


@main.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema in SDL, as committed in schema.graphql."""
    from api.graphql.schema import schema

    click.echo(schema.as_str())


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    async def with_cleanup() -> T:
        try:
            return await coroutine
        finally:
            await dispose_engines()

    try:
        return asyncio.run(with_cleanup())
    except DomainError as error:
        raise click.ClickException(error.message) from None


@main.command("create-token")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([role.value for role in TokenRole]),
    default=TokenRole.ADMIN.value,
    show_default=True,
    help="admin may call mutations; viewer may only query.",
)
def create_token(name: str, role: str) -> None:
    """Create an API token named NAME and print it; it is shown only once."""
    upgrade_database()

    async def create() -> str:
        async with session_scope() as session:
            token, secret = await tokens.create_token(session, name, TokenRole(role))
            record_audit(
                session,
                token_name=None,
                action="create-token",
                objects={"ApiToken": token.id},
                changes=changed({}, {"name": token.name, "role": token.role}),
            )
        return secret

    secret = _run(create())
    click.echo(f"Created {role} token {name!r}. Store it now; it is not shown again.")
    click.echo(secret)


def _minute(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"


@main.command("list-tokens")
def list_tokens() -> None:
    """List API tokens by name, with role and last use; never the secrets."""
    upgrade_database()

    async def rows() -> list[str]:
        async with session_scope() as session:
            return [
                f"{t.name}\t{t.role.value}\tcreated {t.created_at:%Y-%m-%d %H:%M}"
                f"\tlast used {_minute(t.last_used_at)}"
                for t in await tokens.list_tokens(session)
            ]

    for line in _run(rows()):
        click.echo(line)


@main.command("revoke-token")
@click.argument("name")
def revoke_token(name: str) -> None:
    """Revoke the API token named NAME; requests with it get 401 at once."""
    upgrade_database()

    async def revoke() -> None:
        async with session_scope() as session:
            token = await tokens.revoke_token(session, name)
            record_audit(
                session,
                token_name=None,
                action="revoke-token",
                objects={"ApiToken": token.id},
                changes=changed(
                    {"name": token.name, "role": token.role},
                    {"name": None, "role": None},
                ),
            )

    _run(revoke())
    click.echo(f"Revoked token {name!r}.")


@main.command("generate-key")
def generate_key() -> None:
    """Print a new key for SMARTLINK_ENCRYPTION_KEY."""
    click.echo(secrets.generate_key())


@main.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored SCIM token with the first encryption key.

    To rotate, put the new key first in SMARTLINK_ENCRYPTION_KEY and keep the
    old one after it (NEW,OLD), run this command, then remove the old key.
    """
    upgrade_database()

    async def reseal() -> secrets.ResealResult:
        async with session_scope() as session:
            result = await secrets.reseal_tokens(session)
            record_audit(
                session,
                token_name=None,
                action="rotate-key",
                changes={
                    "tokensResealed": result.resealed,
                    "tokensUnreadable": result.unreadable,
                },
            )
        return result

    try:
        result = _run(reseal())
    except secrets.SecretKeyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Re-encrypted {result.resealed} SCIM tokens with the first key.")
    if result.unreadable:
        ids = ", ".join(str(application_id) for application_id in result.unreadable)
        raise click.ClickException(
            f"The SCIM tokens of these applications decrypt with no configured key "
            f"and were left as they were: {ids}. Save each one again in its "
            "application's Configuration tab."
        )
