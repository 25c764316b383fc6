"""Decoding the global ids that mutation inputs carry."""

from __future__ import annotations

import uuid

from strawberry import relay

from domain.errors import InvalidInput, shown


def decode_id(global_id: relay.GlobalID | str, type_name: str, field: str) -> uuid.UUID:
    """Return the UUID inside a global id of `type_name`, or raise `InvalidInput`."""
    try:
        if isinstance(global_id, str):
            global_id = relay.GlobalID.from_id(global_id)
        if global_id.type_name == type_name:
            return uuid.UUID(global_id.node_id)
    except (ValueError, TypeError):
        pass
    # "User" takes "a", because its U sounds like "you".
    article = "an" if type_name[:1] in "AEIO" else "a"
    raise InvalidInput(
        f"{field} {shown(global_id)} is not the id of {article} {type_name}; pass "
        f"the `id` of {article} {type_name} object.",
        field=[field],
    )
