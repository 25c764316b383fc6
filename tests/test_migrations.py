"""Schema migrations on a SQLite file of their own."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from pathlib import Path

from alembic import command

from domain.migrate import alembic_config, upgrade_database


def test_groups_get_external_uuid(tmp_path: Path) -> None:
    path = tmp_path / "migrated.db"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "0001")
    application, folder = uuid.uuid4(), uuid.uuid4()
    with sqlite3.connect(path) as database:
        database.execute(
            "INSERT INTO applications (id, name, name_key, created_at) "
            "VALUES (?, 'CRM', 'crm', '2026-01-01 00:00:00')",
            (application.hex,),
        )
        for scim_id, external_id in (("g1", str(folder)), ("g2", "not-a-uuid")):
            database.execute(
                "INSERT INTO scim_groups (id, application_id, scim_id, display_name,"
                " display_name_key, external_id, member_ids, raw, refreshed_at) "
                "VALUES (?, ?, ?, 'G', 'g', ?, '[]', '{}', '2026-01-01 00:00:00')",
                (uuid.uuid4().hex, application.hex, scim_id, external_id),
            )

    command.upgrade(config, "head")

    with sqlite3.connect(path) as database:
        rows = database.execute(
            "SELECT scim_id, external_uuid FROM scim_groups ORDER BY scim_id"
        ).fetchall()
    assert rows == [("g1", folder.hex), ("g2", None)]

    command.downgrade(config, "0001")
    with sqlite3.connect(path) as database:
        columns = [row[1] for row in database.execute("PRAGMA table_info(scim_groups)")]
    assert "external_uuid" not in columns


def test_models_match_migrations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'check.db'}"
    upgrade_database(url)

    # Raises when the models declare anything the revisions do not create.
    command.check(alembic_config(url))


def test_dry_run_operations_become_withheld(tmp_path: Path) -> None:
    path = tmp_path / "migrated.db"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "0009")
    application = uuid.uuid4()
    with sqlite3.connect(path) as database:
        database.execute(
            "INSERT INTO applications (id, name, name_key, created_at) "
            "VALUES (?, 'CRM', 'crm', '2026-01-01 00:00:00')",
            (application.hex,),
        )
        for action, status, dry_run in (
            ("CREATE_ACCOUNT", "SUCCEEDED", 1),
            ("DELETE_ACCOUNT", "SUCCEEDED", 0),
            ("CREATE_GROUP", "FAILED", 0),
        ):
            database.execute(
                "INSERT INTO provisioning_operations (id, application_id, action,"
                " status, trigger, attempts, dry_run, created_at) "
                "VALUES (?, ?, ?, ?, 'api:tests', 0, ?, '2026-01-01 00:00:00')",
                (uuid.uuid4().hex, application.hex, action, status, dry_run),
            )
    query = "SELECT action, status FROM provisioning_operations ORDER BY action"

    command.upgrade(config, "head")
    with sqlite3.connect(path) as database:
        upgraded = database.execute(query).fetchall()
    command.downgrade(config, "0009")
    with sqlite3.connect(path) as database:
        downgraded = database.execute(query).fetchall()

    assert upgraded == [
        ("CREATE_ACCOUNT", "WITHHELD"),
        ("CREATE_GROUP", "FAILED"),
        ("DELETE_ACCOUNT", "SUCCEEDED"),
    ]
    assert downgraded == [
        ("CREATE_ACCOUNT", "SUCCEEDED"),
        ("CREATE_GROUP", "FAILED"),
        ("DELETE_ACCOUNT", "SUCCEEDED"),
    ]


def test_new_sqlite_file_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "private.db"

    upgrade_database(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as database:
        database.execute("PRAGMA journal_mode=WAL")
        database.execute("CREATE TABLE probe (id INTEGER)")
        wal_mode = stat.S_IMODE((tmp_path / "data" / "private.db-wal").stat().st_mode)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert wal_mode == 0o600


def test_existing_sqlite_file_keeps_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)

    upgrade_database(f"sqlite+aiosqlite:///{path}")

    assert stat.S_IMODE(path.stat().st_mode) == 0o640
