"""Inserts and deletes of rows that concurrent requests may race to write.

Two requests that both read "no grant" both insert the grant, and two that
both read a grant both delete it. With these functions only one transaction
writes each row, and each caller learns which rows it wrote, so the others
succeed without a change and emit no events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, delete, inspect, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

Row = TypeVar("Row", bound=SQLModel)

_INSERTS: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


async def insert_new_rows(session: AsyncSession, rows: Sequence[Row]) -> list[Row]:
    """Insert the rows whose primary key is free, and return those it inserted.

    The rows must belong to one table. INSERT ... ON CONFLICT DO NOTHING
    skips a row that another transaction inserted first. On PostgreSQL it
    waits for that transaction to end, so of several transactions inserting
    one row, exactly one gets it back. The rows go in primary key order, so
    two such INSERTs with overlapping rows wait on them in the same order
    rather than deadlock.
    """
    if not rows:
        return []
    table, keys = _table_and_keys(rows)
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise NotImplementedError(
            f"Inserting new rows on {dialect!r} is not supported; use "
            "PostgreSQL or SQLite."
        )

    by_key = dict(zip(keys, rows, strict=True))
    values = [_column_values(by_key[key]) for key in sorted(by_key)]
    statement = (
        _INSERTS[dialect](table)
        .values(values)
        .on_conflict_do_nothing(index_elements=list(table.primary_key.columns))
        .returning(*table.primary_key.columns)
    )
    result = await session.exec(statement)
    return [by_key[tuple(key)] for key in result]


async def delete_rows(session: AsyncSession, rows: Sequence[Row]) -> list[Row]:
    """Delete the rows by primary key, and return those this transaction deleted.

    The rows must belong to one table. A row that another transaction
    deleted first is left out. On PostgreSQL the DELETE waits for that
    transaction to end, then finds no row.
    """
    if not rows:
        return []
    table, keys = _table_and_keys(rows)

    by_key = dict(zip(keys, rows, strict=True))
    columns = list(table.primary_key.columns)
    # The ORM form of DELETE also drops the deleted rows from the session.
    statement = (
        delete(type(rows[0]))
        .where(tuple_(*columns).in_(sorted(by_key)))
        .returning(*columns)
    )
    result = await session.exec(statement)
    return [by_key[tuple(key)] for key in result]


def _table_and_keys(rows: Sequence[SQLModel]) -> tuple[Table, list[tuple[Any, ...]]]:
    """Return the table of the rows and each row's primary key, in column order."""
    models = {type(row) for row in rows}
    if len(models) > 1:
        names = sorted(model.__name__ for model in models)
        raise ValueError(
            f"Rows of one table were expected, but got rows of {names}; pass "
            "each table's rows in a call of its own."
        )

    mapper = inspect(type(rows[0]))
    keys = [tuple(mapper.primary_key_from_instance(row)) for row in rows]
    table = mapper.local_table
    assert isinstance(table, Table)
    return table, keys


def _column_values(row: SQLModel) -> dict[str, Any]:
    mapper = inspect(type(row))
    return {
        attribute.columns[0].key: getattr(row, attribute.key)
        for attribute in mapper.column_attrs
    }
