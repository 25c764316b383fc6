"""Schema migrations, applied by `smartlink migrate` and on `smartlink serve`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from domain.config import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "sqlalchemy.url", url or get_settings().resolved_database_url
    )
    return config


def upgrade_database(url: str | None = None) -> None:
    """Bring the database at `url` (default: settings) to the newest schema.

    Alembic's environment runs its own event loop, so call this outside one.
    """
    url = url or get_settings().resolved_database_url
    if url.startswith("sqlite"):
        _create_private_file(make_url(url).database)
    command.upgrade(alembic_config(url), "head")


def _create_private_file(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only.

    The file contains users' emails, token digests and sealed SCIM tokens.
    SQLite gives its -wal and -shm files the database file's permissions.
    An existing file keeps its own.
    """
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
