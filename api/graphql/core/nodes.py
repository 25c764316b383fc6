"""Fetching Relay nodes by id, in one query per type."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlmodel import SQLModel, col, select

from api.graphql.core.context import Info

M = TypeVar("M", bound=SQLModel)


def parse_node_ids(node_ids: Iterable[str]) -> list[uuid.UUID | None]:
    parsed: list[uuid.UUID | None] = []
    for node_id in node_ids:
        try:
            parsed.append(uuid.UUID(node_id))
        except ValueError:
            parsed.append(None)
    return parsed


async def load_models(
    info: Info, model: type[M], node_ids: Iterable[str]
) -> list[M | None]:
    """Return the rows of `model` for `node_ids`, None where one is missing."""
    ids = parse_node_ids(node_ids)
    wanted = [i for i in ids if i is not None]
    found: dict[Any, M] = {}
    if wanted:
        id_column: Any = model.id  # type: ignore[attr-defined]
        rows = await info.context.session.exec(
            select(model).where(col(id_column).in_(wanted))
        )
        found = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) if i is not None else None for i in ids]
