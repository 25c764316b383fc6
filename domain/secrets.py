"""Encryption of stored SCIM tokens (AES-256-GCM).

The key comes from `SMARTLINK_ENCRYPTION_KEY`, else from `secret.key` in the
data folder, created with owner-only permissions on first use. Each ciphertext
is bound to its application id as associated data, so a token copied into
another application's row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import uuid
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.config import get_settings

NONCE_BYTES = 12
KEY_FILE_NAME = "secret.key"


class SecretKeyError(Exception):
    """Raised when the encryption key is missing, malformed or does not match."""


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "==")
    except (binascii.Error, ValueError) as exc:
        raise SecretKeyError(f"The encryption key in {source} is not base64.") from exc
    if len(key) != 32:
        raise SecretKeyError(
            f"The encryption key in {source} is {len(key)} bytes; it must be 32. "
            'Generate one with: python -c "import base64,os;'
            'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
        )
    return key


def _key_file_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return _decode_key(path.read_text(), str(path))


@lru_cache
def encryption_key() -> bytes:
    settings = get_settings()
    if settings.encryption_key:
        return _decode_key(settings.encryption_key, "SMARTLINK_ENCRYPTION_KEY")
    return _key_file_key(settings.data_dir)


def seal(plaintext: str, application_id: uuid.UUID) -> bytes:
    """Encrypt `plaintext` for `application_id`; returns nonce + ciphertext."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(encryption_key()).encrypt(
        nonce, plaintext.encode(), application_id.bytes
    )
    return nonce + sealed


def unseal(blob: bytes, application_id: uuid.UUID) -> str:
    """Decrypt a value that `seal` produced for the same application."""
    try:
        plaintext = AESGCM(encryption_key()).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], application_id.bytes
        )
    except InvalidTag as exc:
        raise SecretKeyError(
            f"The SCIM token of application {application_id} does not decrypt: the "
            "encryption key changed or the row was copied. Save the token again."
        ) from exc
    return plaintext.decode()
