"""schema.graphql, the committed schema, matches the code."""

from __future__ import annotations

from pathlib import Path

from api.graphql.schema import schema

SCHEMA_FILE = Path(__file__).parent.parent / "schema.graphql"


def test_schema_file_current() -> None:
    # `smartlink export-schema` prints the SDL and a newline; `make schema`
    # writes that output to the file.
    assert SCHEMA_FILE.read_text() == schema.as_str() + "\n", (
        "schema.graphql is out of date; run `make schema` and commit it."
    )
