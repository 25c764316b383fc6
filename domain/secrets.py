"""Encryption of stored SCIM tokens (AES-256-GCM), and key rotation.

The keys come from `SMARTLINK_ENCRYPTION_KEY`, else from `secret.key` in the
data folder, created with owner-only permissions on first use. Either contains
one or more comma-separated keys: the first encrypts, and every one decrypts,
so a new key can go first while tokens sealed with the old one still open
until `reseal_tokens` has re-encrypted them. Each ciphertext is bound to its
application id as associated data, so a token copied into another
application's row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.config import get_settings
from domain.models import ScimConnection

logger = logging.getLogger(__name__)

NONCE_BYTES = 12
KEY_FILE_NAME = "secret.key"


class SecretKeyError(Exception):
    """Raised when the encryption key is missing, malformed or does not match."""


def generate_key() -> str:
    """Return a new key in the form `SMARTLINK_ENCRYPTION_KEY` takes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "==")
    except (binascii.Error, ValueError) as exc:
        raise SecretKeyError(f"The encryption key in {source} is not base64.") from exc
    if len(key) != 32:
        raise SecretKeyError(
            f"The encryption key in {source} is {len(key)} bytes; it must be 32. "
            "Generate one with `smartlink generate-key`."
        )
    return key


def _decode_keys(text: str, source: str) -> tuple[bytes, ...]:
    entries = [entry for entry in text.split(",") if entry.strip()]
    if not entries:
        raise SecretKeyError(
            f"{source} contains no key. Generate one with `smartlink generate-key`."
        )
    return tuple(
        _decode_key(entry, f"{source} (key {index})" if len(entries) > 1 else source)
        for index, entry in enumerate(entries, start=1)
    )


def _key_file_keys(data_dir: Path) -> tuple[bytes, ...]:
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(generate_key())
        logger.info("Generated the encryption key file %s.", path)
    return _decode_keys(path.read_text(), str(path))


@lru_cache
def encryption_keys() -> tuple[bytes, ...]:
    """Return the keys, the one that encrypts first."""
    settings = get_settings()
    if settings.encryption_key:
        return _decode_keys(settings.encryption_key, "SMARTLINK_ENCRYPTION_KEY")
    return _key_file_keys(settings.data_dir)


def seal(plaintext: str, application_id: uuid.UUID) -> bytes:
    """Encrypt `plaintext` for `application_id` with the first key.

    Returns the nonce followed by the ciphertext and its tag.
    """
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(encryption_keys()[0]).encrypt(
        nonce, plaintext.encode(), application_id.bytes
    )
    return nonce + sealed


def unseal(blob: bytes, application_id: uuid.UUID) -> str:
    """Decrypt a value that `seal` produced for the same application.

    Tries every configured key. Raises `SecretKeyError` when none opens it.
    """
    for key in encryption_keys():
        try:
            plaintext = AESGCM(key).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], application_id.bytes
            )
        except InvalidTag:
            continue
        return plaintext.decode()
    raise SecretKeyError(
        f"The SCIM token of application {application_id} does not decrypt with "
        "any configured encryption key: the key changed without the old one "
        "being kept, or the token was copied from another application. Save "
        "the token again."
    )


@dataclass
class ResealResult:
    """Outcome of `reseal_tokens`: tokens re-encrypted, and those no key opens."""

    resealed: int = 0
    unreadable: list[uuid.UUID] = field(default_factory=list)


async def reseal_tokens(session: AsyncSession) -> ResealResult:
    """Re-encrypt every stored SCIM token with the first key.

    A token that no key opens is left as it is and reported, so its admin can
    save it again. The caller commits.
    """
    statement = select(ScimConnection).where(
        col(ScimConnection.token_ciphertext).is_not(None)
    )
    result = ResealResult()
    for connection in await session.exec(statement):
        assert connection.token_ciphertext is not None
        try:
            token = unseal(connection.token_ciphertext, connection.application_id)
        except SecretKeyError:
            logger.warning(
                "The SCIM token of application %s does not decrypt; it was not "
                "re-encrypted.",
                connection.application_id,
            )
            result.unreadable.append(connection.application_id)
            continue
        connection.token_ciphertext = seal(token, connection.application_id)
        result.resealed += 1
    await session.flush()
    return result
