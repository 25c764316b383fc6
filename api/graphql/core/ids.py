"""Decoding the global ids that inputs carry, and showing ids in messages.

Domain messages name objects by their UUID, but clients use global ids. So
`with_global_ids` replaces each UUID in a message with the global id that the
request sent for it, or else with the global id of the type that the message's
references give. Logs and the database keep the raw UUIDs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

from strawberry import relay
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, InvalidInput, shown

#: A UUID as `str(uuid.UUID)` writes it, where it is a word of the sentence.
#: One in quotes or in a path is a value as sent to a SCIM target, such as an
#: externalId or a URL, and stays raw because the target stores it that way.
_UUID_IN_TEXT = re.compile(
    r"(?<![\w'\"/=-])"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"(?![\w'\"/-])"
)

#: A global id that reads unambiguously in a sentence without quotes.
_PLAIN_GLOBAL_ID = re.compile(r"[A-Za-z0-9+/=_-]{1,100}")

#: The global ids decoded during the current operation, by the UUID inside.
#: None outside an operation, where nothing is recorded.
_sent_ids: ContextVar[dict[uuid.UUID, str] | None] = ContextVar(
    "sent_global_ids", default=None
)


def decode_id(global_id: relay.GlobalID | str, type_name: str, field: str) -> uuid.UUID:
    """Return the UUID inside a global id of `type_name`, or raise `InvalidInput`.

    Records the id as sent, so that error messages of the same operation show
    it in place of the UUID.
    """
    sent = str(global_id)
    try:
        if isinstance(global_id, str):
            global_id = relay.GlobalID.from_id(global_id)
        if global_id.type_name == type_name:
            decoded = uuid.UUID(global_id.node_id)
            _record(decoded, sent)
            return decoded
    except (ValueError, TypeError):
        pass
    # "User" takes "a", because its U sounds like "you".
    article = "an" if type_name[:1] in "AEIO" else "a"
    raise InvalidInput(
        f"{field} {shown(global_id)} is not the id of {article} {type_name}; pass "
        f"the `id` of {article} {type_name} object.",
        field=[field],
    )


def _record(decoded: uuid.UUID, sent: str) -> None:
    sent_ids = _sent_ids.get()
    if sent_ids is not None:
        # The first spelling wins when one list sends the same object twice.
        sent_ids.setdefault(decoded, sent)


def message_for_client(error: DomainError) -> str:
    """Return the error's message with the UUIDs it names as global ids."""
    return with_global_ids(error.message, error.references)


def with_global_ids(
    text: str,
    references: Mapping[uuid.UUID, str] | Mapping[uuid.UUID | None, str] | None = None,
) -> str:
    """Return `text` with each UUID in it shown as a global id.

    A UUID that the operation's input sent shows as the client spelled it, one
    in `references` (object id to type name) as that type's global id, and any
    other UUID stays as it is.
    """
    sent_ids = _sent_ids.get() or {}
    references = references or {}

    def replace(match: re.Match[str]) -> str:
        value = uuid.UUID(match.group())
        if value in sent_ids:
            return _quoted_if_odd(sent_ids[value])
        type_name = references.get(value)
        if type_name is not None:
            return relay.to_base64(type_name, str(value))
        return match.group()

    return _UUID_IN_TEXT.sub(replace, text)


def _quoted_if_odd(global_id: str) -> str:
    # Base64 decoding skips characters outside its alphabet, so a valid id may
    # arrive with spaces or symbols in it. Such an id is quoted and cut short.
    if _PLAIN_GLOBAL_ID.fullmatch(global_id):
        return global_id
    return shown(global_id)


class RecordSentIds(SchemaExtension):
    """Keep a record, for each operation, of the global ids its input sent."""

    def on_operation(self) -> Iterator[None]:
        token = _sent_ids.set({})
        try:
            yield
        finally:
            _sent_ids.reset(token)
