"""The committed schema.graphql against the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import REPOSITORY, run_smartlink, smartlink_env


def test_schema_file_is_current(tmp_path: Path) -> None:
    result = run_smartlink("export-schema", env=smartlink_env(tmp_path / "data"))

    assert result.returncode == 0, result.stderr
    committed = (REPOSITORY / "schema.graphql").read_text()
    assert result.stdout == committed, (
        "schema.graphql differs from `smartlink export-schema`; run `make schema` "
        "and commit the result."
    )
