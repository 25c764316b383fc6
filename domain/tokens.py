"""API tokens: created and revoked from the command line, checked per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.models import ApiToken, TokenRole
from domain.models.columns import utcnow

TOKEN_PREFIX = "slk_"

#: A token's last use is written at most this often, so that a busy client
#: does not turn every request into a database write.
LAST_USE_PRECISION = timedelta(minutes=1)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(
    session: AsyncSession, name: str, role: TokenRole = TokenRole.ADMIN
) -> tuple[ApiToken, str]:
    """Create a token named `name`; returns the row and the secret, shown once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput(f"Token name {name!r} must be 1 to 100 characters.")
    existing = (
        await session.exec(select(ApiToken).where(ApiToken.name == name))
    ).first()
    if existing is not None:
        raise AlreadyExists(
            f"A token named {name!r} already exists; revoke it first or pick "
            "another name."
        )

    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=hash_token(secret), role=role)
    session.add(token)
    await session.flush()
    return token, secret


async def authenticate(session: AsyncSession, secret: str) -> ApiToken | None:
    """Return the token whose secret is `secret`, or None."""
    digest = hash_token(secret)
    statement = select(ApiToken).where(ApiToken.token_hash == digest)
    token = (await session.exec(statement)).first()
    # The lookup is by digest, so timing reveals nothing about the secret; the
    # comparison guards against a collation that matches loosely.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token


async def list_tokens(session: AsyncSession) -> Sequence[ApiToken]:
    return (await session.exec(select(ApiToken).order_by(col(ApiToken.name)))).all()


async def revoke_token(session: AsyncSession, name: str) -> ApiToken:
    """Delete the token named `name` and return it."""
    token = (await session.exec(select(ApiToken).where(ApiToken.name == name))).first()
    if token is None:
        raise NotFound(
            f"No token is named {name!r}; `smartlink list-tokens` shows the names."
        )
    await session.delete(token)
    await session.flush()
    return token


async def touch_token(session: AsyncSession, token: ApiToken) -> bool:
    """Set `last_used_at` to now, unless it was set less than LAST_USE_PRECISION ago.

    Returns whether it was set, so the caller knows whether to commit.
    """
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USE_PRECISION:
        return False
    token.last_used_at = now
    await session.flush()
    return True
