"""Insert and update many rows with one statement each, without ORM objects.

Building a SQLModel table object runs pydantic's field handling and
SQLAlchemy's instrumentation, and flushing it runs the unit of work. For the
hundreds of rows a batch job writes, that cost more CPU than the SQL itself,
so the hot paths pass plain dictionaries to SQLAlchemy's bulk INSERT and its
bulk UPDATE by primary key instead. Objects already loaded in the session are
not refreshed by these statements: read rows again after using them.
`domain.rows` covers the other case: inserts and deletes that concurrent
requests may race to write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import insert, update
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def new_row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """Return every column of a new `model` row: `values`, else the field defaults.

    Raises `TypeError` naming the field when a required field has no value,
    as building the object would.
    """
    row: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in values:
            row[name] = values[name]
        elif field.default_factory is not None:
            row[name] = field.default_factory()  # type: ignore[call-arg]
        elif field.default is not PydanticUndefined:
            row[name] = field.default
        else:
            raise TypeError(f"{model.__name__}.{name} is required; pass a value.")
    unknown = set(values) - set(model.model_fields)
    if unknown:
        raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]!r}.")
    return row


async def insert_rows(
    session: AsyncSession, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT `rows`, each built by `new_row`, in as few statements as possible."""
    if rows:
        await session.exec(insert(model), params=rows)


async def update_rows(
    session: AsyncSession, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    """UPDATE rows by primary key: each dictionary contains the key and the new values.

    Rows that set the same columns share one executemany statement.
    """
    if rows:
        await session.exec(update(model), params=rows)
