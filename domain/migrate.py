"""Schema migrations, applied by `smartlink migrate` and on `smartlink serve`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
        get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
